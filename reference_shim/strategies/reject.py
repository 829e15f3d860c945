"""Strategy ``reject`` (phase 1): a pod is one VM and runs exactly one container.

The container runs inside the pod VM, so it has the pod's IP, hostname, port mappings and
IPC. A second container with another name is refused with UNIMPLEMENTED. A new attempt of
the same container after the previous one exited (a kubelet restart) is the same container
and is allowed.
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import Namespace, Placement
from reference_shim.cri.records import ContainerRecord, PodRecord
from reference_shim.errors import Unimplemented

_POD_NAMESPACES = frozenset({Namespace.NETWORK, Namespace.IPC, Namespace.UTS})


class RejectStrategy:
    name = "reject"

    def pod_placement(self, pod: PodRecord, backend_network: str) -> Placement:
        return Placement.own_vm(backend_network)

    def admit(
        self, pod: PodRecord, siblings: list[ContainerRecord], config: cri.ContainerConfig
    ) -> None:
        for sibling in siblings:
            restart = sibling.name == config.metadata.name and sibling.state == cri.CONTAINER_EXITED
            if not restart:
                raise Unimplemented(
                    f"pod {pod.name!r} already has container {sibling.name!r}: strategy "
                    "'reject' runs one container per pod, because a pod is one VM and a VM "
                    "runs one workload; multi-container pods need the shared-vm or "
                    "separate-vms strategy"
                )

    def container_placement(self, pod: PodRecord, config: cri.ContainerConfig) -> Placement:
        shared = set(_POD_NAMESPACES)
        options = config.linux.security_context.namespace_options
        if options.pid == cri.POD:
            shared.add(Namespace.PID)
        return Placement.inside_vm(pod.vm_id, frozenset(shared))
