"""Strategy ``shared-vm`` (phase 2, consolidation): every container of a pod runs in the pod VM.

The phases are the seed's plan for multi-container pods (``reference_shim.strategies``).

Each container keeps its own image, root filesystem, environment, user, resources, mounts,
logs, exec and lifecycle, but shares the pod VM's network (so ``localhost`` reaches the
others and the pod IP is everyone's), IPC and UTS namespaces, and its PID namespace when it
asks for ``pid = POD``. ``pid = TARGET`` joins the named container's PID namespace instead.
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import Capability, Placement
from reference_shim.state.records import ContainerRecord, PodRecord
from reference_shim.strategies.base import BackendStrategy
from reference_shim.strategies.placements import inside_pod_vm, pid_mode, pid_target


class SharedVmStrategy(BackendStrategy):
    name = "shared-vm"
    needs = frozenset({Capability.WORKLOAD_IN_POD_VM, Capability.SHARED_POD_VM})

    def place_container(
        self, pod: PodRecord, siblings: list[ContainerRecord], config: cri.ContainerConfig
    ) -> Placement:
        if pid_mode(config) == cri.TARGET:
            return inside_pod_vm(pod, config, pid_of=pid_target(siblings, config).vm_id)
        return inside_pod_vm(pod, config)
