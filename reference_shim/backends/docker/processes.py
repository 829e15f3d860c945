"""The credentials of a Docker container's main process, read from the host's /proc.

Docker reports the host PID of a container's main process (``State.Pid``). The shim runs on the
Engine's host (it already signals timed-out execs by their host PID), so ``/proc/<pid>/status``
there is what the kernel holds for the process: the identity ContainerStatus.user must report,
whatever the config asked for. The process's cgroup must name the container, so that a PID seen
from another PID namespace, or reused after the process ended, is never taken for it.
"""

from __future__ import annotations

from pathlib import Path

from reference_shim.backends.base import ProcessUser

PROC = Path("/proc")


def parse_status(text: str) -> ProcessUser:
    """The real uid and gid and the supplementary groups of a ``/proc/<pid>/status``."""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return ProcessUser(
        uid=int(fields["Uid"][0]),
        gid=int(fields["Gid"][0]),
        groups=tuple(int(group) for group in fields.get("Groups", [])),
    )


def read_process_user(pid: int, container_id: str, proc: Path = PROC) -> ProcessUser | None:
    """The credentials of host process ``pid`` if it is in the container's cgroup, else None."""
    directory = proc / str(pid)
    try:
        if container_id not in (directory / "cgroup").read_text():
            return None
        return parse_status((directory / "status").read_text())
    except (FileNotFoundError, ProcessLookupError):  # it ended, or is not visible from here
        return None
