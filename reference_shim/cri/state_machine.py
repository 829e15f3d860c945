"""The CRI state machine for containers and pod sandboxes.

Containers only move forward: CREATED -> RUNNING -> EXITED, with UNKNOWN when the backend
lost track of the VM. A pod is READY until it is stopped or its VM goes away.
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim.errors import FailedPrecondition
from reference_shim.state.records import ContainerRecord, PodRecord

OOM_KILLED_REASON = "OOMKilled"
CONTAINER_TRANSITIONS: dict[int, frozenset[int]] = {
    cri.CONTAINER_CREATED: frozenset(
        {cri.CONTAINER_RUNNING, cri.CONTAINER_EXITED, cri.CONTAINER_UNKNOWN}
    ),
    cri.CONTAINER_RUNNING: frozenset({cri.CONTAINER_EXITED, cri.CONTAINER_UNKNOWN}),
    cri.CONTAINER_UNKNOWN: frozenset({cri.CONTAINER_EXITED, cri.CONTAINER_RUNNING}),
    cri.CONTAINER_EXITED: frozenset(),
}


def container_state_name(state: int) -> str:
    return str(cri.ContainerState.Name(cri.ContainerState.ValueType(state)))


def pod_state_name(state: int) -> str:
    return str(cri.PodSandboxState.Name(cri.PodSandboxState.ValueType(state)))


def can_move(current: int, target: int) -> bool:
    return current == target or target in CONTAINER_TRANSITIONS[current]


def require_container_state(record: ContainerRecord, allowed: set[int], action: str) -> None:
    if record.state not in allowed:
        wanted = " or ".join(sorted(container_state_name(state) for state in allowed))
        raise FailedPrecondition(
            f"cannot {action} container {record.id}: it is {container_state_name(record.state)},"
            f" {action} needs {wanted}"
        )


def require_pod_ready(pod: PodRecord, action: str) -> None:
    if pod.state != cri.SANDBOX_READY:
        raise FailedPrecondition(
            f"cannot {action}: pod sandbox {pod.id} is {pod_state_name(pod.state)}, "
            "not SANDBOX_READY"
        )


def exit_reason(exit_code: int, oom_killed: bool) -> str:
    """The reason kubelet expects for an exited container (as containerd reports it)."""
    if oom_killed:
        return OOM_KILLED_REASON
    return "Completed" if exit_code == 0 else "Error"
