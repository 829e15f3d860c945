"""Strategy ``separate-vms`` (phase 3, networking): a pod's containers are VMs of their own.

The phases are the seed's plan for multi-container pods (``reference_shim.strategies``).

The pod VM gets a network of the pod's own (when the backend can make one) and its IP is the
pod IP. The pod VM runs one container at a time, as in ``reject``, so that a single-container
pod keeps the pod IP, port mappings and hostname a kubelet expects: the first live container
runs inside it (a later one takes its place once it has exited). Every other container is a VM
of its own, with its own IP on the pod's network, the pod's hostname and /etc/hosts, DNS
config and host-path volumes.

What VMs cannot share is this strategy's declared trade-off (fixtures/profiles/
reference-shim-separate-vms.yaml), not a refusal: the CRI default for the network, IPC and PID
namespaces is POD, so refusing it would refuse every second container. A container in a VM of
its own has that VM's network, IPC and PID namespaces: ``localhost``, /dev/shm and ``ps`` show
only its own; it reaches the container in the pod VM by the pod IP, and the others by their IPs
(``vm_ip`` in verbose ContainerStatus). Only an explicit ``pid = TARGET`` is refused, since it
names a namespace in another VM.
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import Placement, pod_networks
from reference_shim.errors import Unimplemented
from reference_shim.state.records import ContainerRecord, PodRecord
from reference_shim.strategies.base import BackendStrategy
from reference_shim.strategies.placements import inside_pod_vm, pid_mode, pod_vm_holder


class SeparateVmsStrategy(BackendStrategy):
    name = "separate-vms"
    pod_hosts_file = True
    shim_host_ports = True

    def place_pod(self, pod: PodRecord) -> Placement:
        networks = pod_networks(self.backend)
        if networks is not None:
            pod.network = networks.create_pod_network(pod.id)
            return Placement.own_vm(pod.network)
        return super().place_pod(pod)

    def place_container(
        self, pod: PodRecord, siblings: list[ContainerRecord], config: cri.ContainerConfig
    ) -> Placement:
        if pid_mode(config) == cri.TARGET:
            raise Unimplemented(
                f"container {config.metadata.name!r} asks to join another container's PID "
                "namespace (pid TARGET); strategy 'separate-vms' runs each container in a VM of "
                "its own, with its own kernel, so no PID namespace spans two containers"
            )
        if pod_vm_holder(siblings) is not None:
            return Placement.own_vm(pod.network or self.backend.network())
        return inside_pod_vm(pod, config)
