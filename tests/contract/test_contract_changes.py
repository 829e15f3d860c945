"""The contract's change reports (``watch_changes``): every exit, once ``inspect_vm`` shows it;
and from a backend that says it follows its changes, every start and removal too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from contract_drivers import Driver, Script, wait_for, watching

from reference_shim.backends.base import VmBackend, VmChange, VmState

RUNS = Script()  # runs until stopped


class Watcher:
    """A ``VmChanges`` that writes down each change with the state ``inspect_vm`` shows when
    it is told (a real watcher returns at once; this one may take its time)."""

    def __init__(self, backend: VmBackend) -> None:
        self._backend = backend
        self.seen: list[tuple[str, VmChange, VmState]] = []
        self.follows = False

    def following(self) -> None:
        self.follows = True

    def changed(self, vm_id: str, change: VmChange) -> None:
        self.seen.append((vm_id, change, self._backend.inspect_vm(vm_id).state))

    def lost(self) -> None:
        self.follows = False

    def changes_of(self, vm_id: str) -> list[tuple[VmChange, VmState]]:
        return [(change, state) for seen_id, change, state in self.seen if seen_id == vm_id]


@pytest.fixture
def watcher(driver: Driver) -> Iterator[Watcher]:
    with watching(driver.backend.watch_changes, Watcher(driver.backend), driver.follows) as seen:
        yield seen


def test_an_exit_is_reported_once_the_backend_shows_it(driver: Driver, watcher: Watcher) -> None:
    vm_id = driver.run(Script(exit_code=3))
    wait_for(lambda: any(change is VmChange.EXITED for change, _ in watcher.changes_of(vm_id)))
    assert (VmChange.EXITED, VmState.EXITED) in watcher.changes_of(vm_id)
    stopped = driver.run(RUNS)
    driver.backend.kill_vm(stopped)
    wait_for(lambda: any(change is VmChange.EXITED for change, _ in watcher.changes_of(stopped)))
    assert watcher.follows is driver.follows


def test_a_following_backend_reports_starts_and_removals(driver: Driver, watcher: Watcher) -> None:
    if not driver.follows:
        pytest.skip(f"the {driver.name} backend reports exits only, and never says it follows")
    vm_id = driver.run(RUNS)
    wait_for(lambda: watcher.changes_of(vm_id) != [])
    assert watcher.changes_of(vm_id)[0] == (VmChange.STARTED, VmState.RUNNING)
    driver.backend.remove_vm(vm_id)
    wait_for(lambda: any(change is VmChange.REMOVED for change, _ in watcher.changes_of(vm_id)))
    assert watcher.changes_of(vm_id)[-1] == (VmChange.REMOVED, VmState.MISSING)
    assert [change for change, _ in watcher.changes_of(vm_id)] == [
        VmChange.STARTED,
        VmChange.EXITED,
        VmChange.REMOVED,
    ]
