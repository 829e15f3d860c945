"""What the shim knows about each pod sandbox and container.

A record keeps the CRI config exactly as the client sent it (so status reads it back
unchanged), the CRI state, and the id of the backend VM that realises it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cri_api.v1 import api_pb2 as cri


@dataclass
class PodRecord:
    id: str
    config: cri.PodSandboxConfig
    runtime_handler: str
    created_at: int
    state: int = cri.SANDBOX_READY
    vm_id: str = ""
    ip: str = ""
    network: str = ""  # the pod's own backend network, when the strategy made one
    shim_ports: bool = False  # the shim serves the TCP port mappings, not the pod VM

    @property
    def name(self) -> str:
        return self.config.metadata.name


@dataclass
class ContainerRecord:
    id: str
    pod_id: str
    config: cri.ContainerConfig
    created_at: int
    image_ref: str
    image_id: str
    log_path: str
    state: int = cri.CONTAINER_CREATED
    vm_id: str = ""
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    resources: cri.LinuxContainerResources = field(default_factory=cri.LinuxContainerResources)
    user: cri.LinuxContainerUser = field(default_factory=cri.LinuxContainerUser)
    in_pod_vm: bool = True  # runs inside the pod VM (shares its namespaces), or in its own VM
    ip: str = ""  # its own VM's IP while running ("" inside the pod VM: the pod IP is its)

    @property
    def name(self) -> str:
        return self.config.metadata.name


@dataclass(frozen=True)
class PodTeardown:
    """What a removed pod left in the backend, to remove after RemovePodSandbox has answered.

    It replaces the pod's records in one transaction, so from then on CRI knows no such pod,
    and it stays stored until the backend objects are gone: a shim killed meanwhile finishes
    the removal at its restart. The containers' VMs go first, then the pod VM (which they may
    have shared namespaces with), then the pod's network (which they were on).
    """

    pod_id: str
    pod_vm: str  # "" when the pod never got one
    container_vms: tuple[str, ...]
    network: str  # the pod's own backend network; "" when it had none

    @property
    def vm_ids(self) -> tuple[str, ...]:
        return tuple(vm for vm in (*self.container_vms, self.pod_vm) if vm)
