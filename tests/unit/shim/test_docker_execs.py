"""An exec's exit code is read once Docker has settled it, never guessed; an exec Docker gave
no process never started."""

from __future__ import annotations

from typing import Any

from reference_shim.backends.docker.execs import exec_exit_code, exec_never_started


class SettlingApi:
    """``exec_inspect`` answers "running, no exit code" a few times before the real state."""

    def __init__(self, running_answers: int, exit_code: int) -> None:
        self.running_answers = running_answers
        self.exit_code = exit_code
        self.calls = 0

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.running_answers:
            return {"Running": True, "ExitCode": None}
        return {"Running": False, "ExitCode": self.exit_code}


def test_the_exit_code_is_read_once_the_exec_stopped_running() -> None:
    api = SettlingApi(running_answers=3, exit_code=126)
    assert exec_exit_code(api, "e1") == 126
    assert api.calls == 4


def test_an_exec_still_running_after_the_wait_has_no_exit_code() -> None:
    assert exec_exit_code(SettlingApi(running_answers=10**6, exit_code=0), "e1", wait_s=0.1) is None


class InspectedApi:
    """``exec_inspect`` answers one settled state."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return self.state


def test_an_exec_without_a_process_never_started() -> None:
    # What Docker 20.10 answers after ``exec: "/no/such/binary": stat ...: no such file``.
    assert exec_never_started(InspectedApi({"Running": False, "ExitCode": 126, "Pid": 0}), "e1")


def test_an_exec_that_had_a_process_started_whatever_its_exit_code() -> None:
    # ``sh -c 'exit 126'``: the command ran and chose its code.
    state = {"Running": False, "ExitCode": 126, "Pid": 22886}
    assert not exec_never_started(InspectedApi(state), "e1")
