"""Placements the strategies share: inside the pod VM, who holds it, and a ``TARGET`` PID
namespace."""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import Namespace, Placement
from reference_shim.errors import NotFound
from reference_shim.state.records import ContainerRecord, PodRecord

POD_NAMESPACES = frozenset({Namespace.NETWORK, Namespace.IPC, Namespace.UTS})
LIVE_STATES = frozenset({cri.CONTAINER_CREATED, cri.CONTAINER_RUNNING, cri.CONTAINER_UNKNOWN})


def pid_mode(config: cri.ContainerConfig) -> int:
    return int(config.linux.security_context.namespace_options.pid)


def inside_pod_vm(pod: PodRecord, config: cri.ContainerConfig, pid_of: str = "") -> Placement:
    """In the pod VM: its network, IPC and UTS, and its PID namespace when ``pid = POD``."""
    shared = set(POD_NAMESPACES)
    if pid_mode(config) == cri.POD:
        shared.add(Namespace.PID)
    return Placement(inside=pod.vm_id, shared=frozenset(shared), pid_of=pid_of)


def pod_vm_holder(siblings: list[ContainerRecord]) -> ContainerRecord | None:
    """The live container in the pod VM, if any.

    The pod VM runs one workload at a time (strategies reject and separate-vms), but a pod's
    containers may run one after another (init containers: the first exits, then the next
    is created), so only a created or running container holds it; an exited one has left it.
    """
    return next((s for s in siblings if s.in_pod_vm and s.state in LIVE_STATES), None)


def pid_target(siblings: list[ContainerRecord], config: cri.ContainerConfig) -> ContainerRecord:
    """The container whose PID namespace a ``pid = TARGET`` container joins."""
    target_id = config.linux.security_context.namespace_options.target_id
    for sibling in siblings:
        if target_id and sibling.id == target_id:
            return sibling
    raise NotFound(
        f"container {config.metadata.name!r} asks for the PID namespace of container "
        f"{target_id!r} (namespace_options.target_id), which is not in this pod"
    )
