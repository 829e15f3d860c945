"""Strategy ``reject`` (phase 1): a pod is one VM and runs exactly one container.

The container runs inside the pod VM, so it has the pod's IP, hostname, port mappings and
IPC. A second container with another name is refused with UNIMPLEMENTED. A new attempt of
the same container after the previous one exited (a kubelet restart) is the same container
and is allowed.
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import Placement
from reference_shim.cri.records import ContainerRecord, PodRecord
from reference_shim.errors import Unimplemented
from reference_shim.strategies.base import BackendStrategy
from reference_shim.strategies.placements import inside_pod_vm, pid_mode


class RejectStrategy(BackendStrategy):
    name = "reject"

    def place_container(
        self, pod: PodRecord, siblings: list[ContainerRecord], config: cri.ContainerConfig
    ) -> Placement:
        for sibling in siblings:
            restart = sibling.name == config.metadata.name and sibling.state == cri.CONTAINER_EXITED
            if not restart:
                raise Unimplemented(
                    f"pod {pod.name!r} already has container {sibling.name!r}: strategy "
                    "'reject' runs one container per pod, because a pod is one VM and a VM "
                    "runs one workload; multi-container pods need the shared-vm or "
                    "separate-vms strategy"
                )
        if pid_mode(config) == cri.TARGET:
            raise Unimplemented(
                "a TARGET PID namespace needs a second container in the pod; "
                "strategy 'reject' runs one container per pod"
            )
        return inside_pod_vm(pod, config)
