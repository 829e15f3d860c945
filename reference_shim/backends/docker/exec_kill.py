"""Ending a Docker exec and everything it started; Docker has no call for either.

The shim runs on the Engine's host (``processes``), so an exec's host PID (``Pid`` in
``exec_inspect``) is a process here. Killing that process alone would leave what it started:
a shell's children are adopted by the container's init, keep running, and keep the exec's
output open. So the whole tree is stopped first (SIGSTOP: nothing forks while it is walked),
then killed. Every process is held by a pidfd and must be in the container's cgroup, checked
after the pidfd is open: a PID that was reused, or one seen from another PID namespace, is
never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from reference_shim.backends.docker.processes import PROC, in_container

START_WAIT_S = 5.0
_POLL_S = 0.02


def kill_exec(
    api: Any, exec_id: str, container_id: str, proc: Path = PROC, start_wait: float = START_WAIT_S
) -> int:
    """SIGKILL the exec's process and its descendants; how many were killed (0: it ended).

    Docker answers an exec's start before its process runs: an exec that is neither running
    nor ended is about to start, and is waited for (``start_wait`` at most).
    """
    deadline = time.monotonic() + start_wait
    while True:
        state = api.exec_inspect(exec_id)
        pid = int(state.get("Pid") or 0)
        if state.get("Running") and pid > 0:
            return kill_tree(pid, container_id, proc)
        if state.get("ExitCode") is not None or time.monotonic() > deadline:
            return 0
        time.sleep(_POLL_S)


def kill_tree(root: int, container_id: str, proc: Path = PROC) -> int:
    """Stop ``root`` and every descendant in the container until no new one appears, then
    kill them all; the number killed."""
    held: dict[int, int] = {}  # pid -> pidfd
    seen: set[int] = set()
    try:
        new = {root}
        while new:
            seen |= new
            for pid in new:
                pidfd = _hold(pid, container_id, proc)
                if pidfd is not None:
                    held[pid] = pidfd
                    _signal(pidfd, signal.SIGSTOP)
            # Children read after their parent stopped: a process stopped late may have
            # forked once more, which the next round finds.
            new = {child for pid in held for child in _children(pid, proc)} - seen
        for pidfd in held.values():
            _signal(pidfd, signal.SIGKILL)
        return len(held)
    finally:
        for pidfd in held.values():
            os.close(pidfd)


def _hold(pid: int, container_id: str, proc: Path) -> int | None:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    if in_container(pid, container_id, proc):
        return pidfd
    os.close(pidfd)
    return None


def _signal(pidfd: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        signal.pidfd_send_signal(pidfd, signum)


def _children(pid: int, proc: Path) -> set[int]:
    children: set[int] = set()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for task in (proc / str(pid) / "task").iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                children.update(int(c) for c in (task / "children").read_text().split())
    return children
