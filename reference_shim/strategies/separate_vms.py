"""Strategy ``separate-vms`` (phase 3, bridged VMs): a pod's containers are VMs of their own.

The pod VM gets a network of the pod's own (when the backend can make one) and its IP is the
pod IP. The pod VM runs one container at a time, as in ``reject``, so that a single-container
pod keeps the pod IP, port mappings and hostname a kubelet expects: the first live container
runs inside it (a later one takes its place once it has exited). Every other container is a VM
of its own, with its own IP on the pod's network, the pod's hostname and /etc/hosts, DNS
config and host-path volumes. What VMs cannot share is refused or declared:
``localhost``, IPC and PID namespaces reach only the container in the pod VM; the other
containers reach it by the pod IP, and each other by their own IPs (in verbose ContainerStatus).
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import Placement, PodNetworks, VmBackend
from reference_shim.cri.records import ContainerRecord, PodRecord
from reference_shim.errors import Unimplemented
from reference_shim.strategies.placements import LIVE_STATES, inside_pod_vm, pid_mode


class SeparateVmsStrategy:
    name = "separate-vms"
    pod_hosts_file = True

    def __init__(self, backend: VmBackend) -> None:
        self._backend = backend

    def place_pod(self, pod: PodRecord) -> Placement:
        if isinstance(self._backend, PodNetworks):
            pod.network = self._backend.create_pod_network(pod.id)
            return Placement.own_vm(pod.network)
        return Placement.own_vm(self._backend.network())

    def place_container(
        self, pod: PodRecord, siblings: list[ContainerRecord], config: cri.ContainerConfig
    ) -> Placement:
        if pid_mode(config) == cri.TARGET:
            raise Unimplemented(
                f"container {config.metadata.name!r} asks to join another container's PID "
                "namespace (pid TARGET); strategy 'separate-vms' runs each container in a VM of "
                "its own, with its own kernel, so no PID namespace spans two containers"
            )
        holder = next((s for s in siblings if s.in_pod_vm and s.state in LIVE_STATES), None)
        if holder is None:
            return inside_pod_vm(pod, config)
        if pid_mode(config) == cri.POD:
            raise Unimplemented(
                f"container {config.metadata.name!r} asks for the pod's PID namespace (pid POD), "
                f"but the pod VM runs container {holder.name!r}; strategy 'separate-vms' gives "
                "this container a VM of its own, with its own kernel and PID namespace"
            )
        return Placement.own_vm(pod.network or self._backend.network())
