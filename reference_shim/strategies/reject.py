"""Strategy ``reject`` (phase 1, single-container pods): one live container at a time per pod.

The phases are the seed's plan for multi-container pods (``reference_shim.strategies``).

A pod is one VM and runs one live container at a time. The container runs inside the pod VM, so
it has the pod's IP, hostname, port mappings and IPC. Containers that run one after another are
allowed: init containers (each exits before the next is created) and a new attempt of a
container after the previous one exited (a kubelet restart). A container created while another
one of the pod is created or running would be a second workload in the VM, and is refused with
UNIMPLEMENTED.
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import Placement
from reference_shim.errors import Unimplemented
from reference_shim.state.records import ContainerRecord, PodRecord
from reference_shim.strategies.base import BackendStrategy
from reference_shim.strategies.placements import inside_pod_vm, pid_mode, pod_vm_holder


class RejectStrategy(BackendStrategy):
    name = "reject"

    def place_container(
        self, pod: PodRecord, siblings: list[ContainerRecord], config: cri.ContainerConfig
    ) -> Placement:
        if pid_mode(config) == cri.TARGET:
            raise Unimplemented(
                f"container {config.metadata.name!r} asks to join another container's PID "
                "namespace (pid TARGET), which would be a second live container in the pod; "
                "strategy 'reject' runs one live container per pod"
            )
        holder = pod_vm_holder(siblings)
        if holder is not None:
            raise Unimplemented(
                f"pod {pod.name!r} already has container {holder.name!r}, created or running: "
                "strategy 'reject' runs one live container per pod at a time, because a pod is "
                "one VM and a VM runs one workload; containers that run together need the "
                "shared-vm or separate-vms strategy"
            )
        return inside_pod_vm(pod, config)
