"""How the Docker backend reads a container's state document into the contract's VmStatus."""

from __future__ import annotations

from reference_shim.backends.base import VmState
from reference_shim.backends.docker.backend import _status_of


def document(status: str, started: str, finished: str) -> dict[str, object]:
    state = {"Status": status, "ExitCode": 0, "StartedAt": started, "FinishedAt": finished}
    return {"Id": "c0ffee", "State": state, "Config": {"Labels": {}}}


def test_an_instant_exit_never_finishes_before_it_started() -> None:
    """Docker stamps StartedAt after its start call returns: an instant exit can read earlier."""
    status = _status_of(
        document("exited", "2026-12-06T11:00:00.000002Z", "2026-12-06T11:00:00.000001Z")
    )
    assert status.state is VmState.EXITED
    assert status.finished_at == status.started_at > 0


def test_a_running_vm_has_not_finished() -> None:
    status = _status_of(document("running", "2026-12-06T11:00:00Z", "0001-01-01T00:00:00Z"))
    assert (status.state, status.finished_at) == (VmState.RUNNING, 0)
    assert status.started_at > 0


def test_an_exit_keeps_its_own_time() -> None:
    status = _status_of(document("exited", "2026-12-06T11:00:00Z", "2026-12-06T11:00:05Z"))
    assert status.finished_at - status.started_at == 5_000_000_000
