"""The credentials of a Docker container's main process, read from the host's /proc.

Docker reports the host PID of a container's main process (``State.Pid``). The shim runs on the
Engine's host (it already signals timed-out execs by their host PID), so ``/proc/<pid>/status``
there is what the kernel holds for the process: the identity ContainerStatus.user must report,
whatever the config asked for. The process's cgroup must name the container, so that a PID seen
from another PID namespace, or reused after the process ended, is never taken for it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from reference_shim.backends.base import ProcessUser
from reference_shim.backends.proc_status import parse_status

log = logging.getLogger(__name__)

PROC = Path("/proc")


def in_container(pid: int, container_id: str, proc: Path = PROC) -> bool:
    """Whether host process ``pid`` is visible here and in the container's cgroup."""
    try:
        return container_id in (proc / str(pid) / "cgroup").read_text()
    except (FileNotFoundError, ProcessLookupError):  # it ended, or is not visible from here
        return False


def read_process_user(pid: int, container_id: str, proc: Path = PROC) -> ProcessUser | None:
    """The credentials of host process ``pid`` if it is in the container's cgroup, else None."""
    if not in_container(pid, container_id, proc):
        return None
    try:
        return parse_status((proc / str(pid) / "status").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return None


def main_process_user(document: dict[str, Any], proc: Path = PROC) -> ProcessUser | None:
    """The credentials of the main process of the container ``document`` (Docker's inspect
    answer) describes, while it runs."""
    state = document.get("State") or {}
    pid = int(state.get("Pid") or 0) if state.get("Running") else 0
    if pid <= 0:
        return None
    user = read_process_user(pid, str(document["Id"]), proc)
    if user is None:
        log.warning(
            "container %s: host PID %d is not its process here (it ended, or the shim does not "
            "run in the Docker Engine's PID namespace); ContainerStatus.user stays empty",
            str(document["Id"])[:12],
            pid,
        )
    return user
