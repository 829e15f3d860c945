"""The contract's lifecycle rules: unknown ids, idempotent stop and remove, exit codes."""

from __future__ import annotations

import pytest
from contract_drivers import Driver, Script

from reference_shim.backends.base import ExecResult, VmState, stop
from reference_shim.errors import FailedPrecondition, NotFound

RUNS = Script()  # runs until stopped
# runs until stopped, and says so once its SIGTERM handler is set
TRAPPED = Script(lines=(("stdout", "trapped"),))


@pytest.fixture(params=["never made", "removed", "removed pod VM"])
def unknown(request: pytest.FixtureRequest, driver: Driver) -> str:
    if request.param == "never made":
        return driver.unknown_id
    vm_id = driver.run(RUNS) if request.param == "removed" else driver.pod()[1]
    driver.backend.remove_vm(vm_id)
    return vm_id


def test_an_unknown_id_is_missing(driver: Driver, unknown: str) -> None:
    backend = driver.backend
    assert backend.inspect_vm(unknown).state is VmState.MISSING
    assert unknown not in backend.list_vms()
    assert backend.stats(unknown) is None
    assert backend.process_user(unknown) is None
    backend.stop_vm(unknown, 1)
    backend.kill_vm(unknown)
    backend.remove_vm(unknown)
    with pytest.raises(NotFound):
        backend.start_vm(unknown)
    with pytest.raises(NotFound):
        backend.exec_sync(unknown, ["true"], 5)


def test_a_vm_is_created_then_runs_and_is_listed_with_its_labels(driver: Driver) -> None:
    backend = driver.backend
    vm_id = driver.create(driver.workload(RUNS))
    assert backend.inspect_vm(vm_id).state is VmState.CREATED
    assert backend.start_vm(vm_id).state is VmState.RUNNING
    listed = backend.list_vms()[vm_id]
    assert (listed.vm_id, listed.state, listed.exit_code) == (vm_id, VmState.RUNNING, None)
    assert listed.labels.items() >= {"io.cri-conformance.contract": "yes"}.items()
    assert listed.started_at > 0


def test_stop_kill_and_remove_are_idempotent(driver: Driver) -> None:
    backend = driver.backend
    created = driver.create(driver.workload(RUNS))
    backend.stop_vm(created, 1)  # a VM that never ran has nothing to stop
    backend.kill_vm(created)
    assert backend.inspect_vm(created).state is not VmState.RUNNING
    running = driver.run(RUNS)
    for _ in range(2):
        backend.stop_vm(running, 5)
        assert backend.inspect_vm(running).state is VmState.EXITED
        backend.kill_vm(running)
    for vm_id in (created, running):
        backend.remove_vm(vm_id)
        backend.remove_vm(vm_id)
        assert backend.inspect_vm(vm_id).state is VmState.MISSING


def test_a_workload_exit_code_is_its_own(driver: Driver) -> None:
    status_before = driver.backend.inspect_vm(driver.run(Script(exit_code=0)))
    assert status_before.state in {VmState.RUNNING, VmState.EXITED}
    assert driver.exited(driver.run(Script(exit_code=3))) == 3
    vm_id = driver.run(Script(exit_code=0))
    assert driver.exited(vm_id) == 0
    status = driver.backend.inspect_vm(vm_id)
    assert status.finished_at >= status.started_at > 0


@pytest.mark.parametrize(("timeout", "code"), [(0, 137), (5, 143)])
def test_the_stop_rule_kills_at_once_without_a_timeout(
    driver: Driver, timeout: int, code: int
) -> None:
    """``stop`` with 0: SIGKILL (128 + 9); with a grace period: the stop signal, SIGTERM. It
    stops the workload once its handler is set: a PID 1 ignores SIGTERM until then (runc's and
    the microvm backend's workload is PID 1), and under TCG the shell takes a while to set it."""
    vm_id = driver.run(TRAPPED)
    output = driver.backend.read_output(vm_id, "stdout", since=0)
    try:
        next(iter(output))
    finally:
        output.close()
    stop(driver.backend, vm_id, timeout)
    status = driver.backend.inspect_vm(vm_id)
    assert (status.state, status.exit_code) == (VmState.EXITED, code)


def test_exec_sync_gives_the_command_exit_code_and_output(driver: Driver) -> None:
    argv = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    driver.expect_exec(argv, ExecResult(exit_code=3, stdout=b"out\n", stderr=b"err\n"))
    vm_id = driver.run(RUNS)
    assert driver.backend.exec_sync(vm_id, argv, 10) == ExecResult(3, b"out\n", b"err\n")


def test_exec_sync_in_a_vm_that_does_not_run_is_a_failed_precondition(driver: Driver) -> None:
    vm_id = driver.run(Script(exit_code=0))
    driver.exited(vm_id)
    with pytest.raises(FailedPrecondition):
        driver.backend.exec_sync(vm_id, ["true"], 10)
