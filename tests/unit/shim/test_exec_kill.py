"""Ending a Docker exec by its host PIDs: the whole tree, only inside its container, and only
once Docker has started it. The processes here are real ones, children of the test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reference_shim.backends.docker.exec_kill import kill_exec, kill_tree
from reference_shim.backends.docker.processes import PROC

ANY_CGROUP = ""
"""A container id every cgroup path contains: the test's processes are in no container."""


def alive(pid: int) -> bool:
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def descendants(pid: int) -> list[int]:
    found = []
    for task in (PROC / str(pid) / "task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


@pytest.fixture
def shell_tree() -> Iterator[subprocess.Popen[bytes]]:
    """A shell with two children that outlive it unless they are killed too."""
    shell = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300 & wait"], start_new_session=True)
    deadline = time.monotonic() + 5
    while len(descendants(shell.pid)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield shell
    with contextlib.suppress(ProcessLookupError):  # the test killed them all
        os.killpg(shell.pid, signal.SIGKILL)
    shell.wait()


def test_the_whole_tree_is_killed(shell_tree: subprocess.Popen[bytes]) -> None:
    children = descendants(shell_tree.pid)
    assert kill_tree(shell_tree.pid, ANY_CGROUP) == 3
    assert shell_tree.wait(5) == -9
    deadline = time.monotonic() + 5
    while any(alive(child) for child in children):
        assert time.monotonic() < deadline, "a child outlived the kill"
        time.sleep(0.01)


def test_a_process_outside_the_container_is_left_alone(
    shell_tree: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    """What /proc says of the PID names another cgroup: it is not the exec's process."""
    (tmp_path / str(shell_tree.pid)).mkdir()
    (tmp_path / str(shell_tree.pid) / "cgroup").write_text("0::/system.slice/other\n")
    assert kill_tree(shell_tree.pid, "container-id", proc=tmp_path) == 0
    assert shell_tree.poll() is None


class ExecStates:
    """``exec_inspect`` answers the given states in turn, then the last one for good."""

    def __init__(self, *states: dict[str, Any]) -> None:
        self.states = list(states)

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def test_an_exec_docker_has_not_started_yet_is_waited_for(
    shell_tree: subprocess.Popen[bytes],
) -> None:
    not_yet = {"Running": False, "ExitCode": None, "Pid": 0}
    running = {"Running": True, "ExitCode": None, "Pid": shell_tree.pid}
    assert kill_exec(ExecStates(not_yet, not_yet, running), "e1", ANY_CGROUP) == 3
    assert shell_tree.wait(5) == -9


def test_an_exec_that_ended_is_not_signalled() -> None:
    ended = ExecStates({"Running": False, "ExitCode": 0, "Pid": 4242})
    assert kill_exec(ended, "e1", ANY_CGROUP, start_wait=60) == 0


def test_an_exec_that_never_starts_is_given_up_on() -> None:
    never = ExecStates({"Running": False, "ExitCode": None, "Pid": 0})
    started = time.monotonic()
    assert kill_exec(never, "e1", ANY_CGROUP, start_wait=0.2) == 0
    assert time.monotonic() - started < 2
