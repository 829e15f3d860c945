"""Status, list and stats calls answer from the records while the backend follows its changes,
and ask the backend otherwise; a change that came in is never answered from memory before it is
applied. The fake backend counts its reads (``reads``) and reports every change it makes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import FakeBackend
from shim_helpers import StartShim, container_config, pod_config, wait_for

from harness.client import CallFailed, CriClient
from reference_shim.backends.base import VmChanges, VmState, VmStatus
from reference_shim.errors import BackendError
from reference_shim.server import Shim
from reference_shim.state.records import PodTeardown
from reference_shim.state.registry import Registry
from reference_shim.state.store import Store


class NeverFollowingBackend(FakeBackend):
    """Reports its changes but never says it follows them (as the apple backend, which finds
    exits by polling)."""

    def watch_changes(self, changes: VmChanges, stop: threading.Event) -> None:
        self._watchers.append(changes)
        stop.wait()
        self._watchers.remove(changes)


def running(client: CriClient) -> tuple[str, str]:
    """A ready pod with a running container: (pod id, container id)."""
    config = pod_config()
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    client.start_container(container_id)
    return pod_id, container_id


def vm_id_of(shim: Shim, object_id: str) -> str:
    registry = shim.ctx.registry
    record = registry.containers.get(object_id) or registry.pods[object_id]
    return record.vm_id


def changes_applied(shim: Shim, *object_ids: str) -> None:
    """Wait until the records of ``object_ids`` are current (the changes the shim's own calls
    caused were applied)."""
    freshness = shim.ctx.registry.freshness
    wait_for(lambda: all(freshness.current(vm_id_of(shim, i)) for i in object_ids))


Followed = tuple[Shim, CriClient, str, str]


@pytest.fixture
def followed(start_shim: StartShim) -> Followed:
    """A shim with a ready pod and a running container whose records are current: (shim,
    client, pod id, container id)."""
    shim, client = start_shim()
    pod_id, container_id = running(client)
    changes_applied(shim, pod_id, container_id)
    return shim, client, pod_id, container_id


class Asking:
    """A status or list call about one container, on a thread of its own; ``answers`` holds
    the states it gave once it returned."""

    def __init__(self, client: CriClient, container_id: str, call: str) -> None:
        self.answers: list[int] = []
        self._client, self._container_id, self._call = client, container_id, call
        self.thread = threading.Thread(target=self._ask)

    def _ask(self) -> None:
        if self._call == "status":
            status = self._client.container_status(self._container_id).status
            self.answers.append(status.state)
        else:
            self.answers.extend(c.state for c in self._client.list_containers())

    def still_waits(self) -> bool:
        self.thread.join(0.3)
        return self.answers == []


def ask_everything(client: CriClient, pod_id: str, container_id: str) -> None:
    client.container_status(container_id)
    client.pod_status(pod_id)
    client.list_containers()
    client.list_pods()
    client.list_container_stats()
    client.container_stats(container_id)
    client.list_pod_stats()


def test_followed_records_are_answered_without_asking_the_backend(
    followed: Followed, backend: FakeBackend
) -> None:
    _, client, pod_id, container_id = followed
    before = Counter(backend.reads)
    for _ in range(3):
        ask_everything(client, pod_id, container_id)
    assert backend.reads == before
    status = client.container_status(container_id).status
    assert status.state == cri.CONTAINER_RUNNING
    assert status.started_at > 0


def test_the_events_of_the_shims_own_calls_cost_no_read(
    client: CriClient, backend: FakeBackend
) -> None:
    """Status right after StartContainer waits for the start's event to be applied (it needs
    no read: the record has the start) rather than reading the VM itself."""
    before = Counter(backend.reads)
    pod_id, container_id = running(client)
    ask_everything(client, pod_id, container_id)
    client.stop_container(container_id, 0)
    client.container_status(container_id)
    assert backend.reads - before == Counter(inspect_vm=2), "only StopContainer's own reads"


def test_an_exit_shows_in_status_and_lists_with_its_code(
    start_shim: StartShim, backend: FakeBackend
) -> None:
    shim, client = start_shim()
    pod_id, container_id = running(client)
    backend.exit(vm_id_of(shim, container_id), 3)
    status = client.container_status(container_id).status
    assert (status.state, status.exit_code, status.reason) == (cri.CONTAINER_EXITED, 3, "Error")
    assert status.finished_at >= status.started_at > 0
    assert [c.state for c in client.list_containers()] == [cri.CONTAINER_EXITED]
    assert client.list_container_stats() == []
    backend.exit(vm_id_of(shim, pod_id), 0)
    assert client.pod_status(pod_id).status.state == cri.SANDBOX_NOTREADY
    assert [p.state for p in client.list_pods()] == [cri.SANDBOX_NOTREADY]


@pytest.mark.parametrize("call", ["status", "list"])
def test_a_change_that_came_in_is_never_answered_from_memory(
    followed: Followed, backend: FakeBackend, call: str
) -> None:
    """While the exit waits to be applied (its record's lock is busy), the call waits too,
    and then shows the exit: never the running state the record still holds."""
    shim, client, _, container_id = followed
    asking = Asking(client, container_id, call)
    with shim.ctx.registry.object_lock(container_id):  # as a long StopContainer would
        backend.exit(vm_id_of(shim, container_id), 0)
        asking.thread.start()
        assert asking.still_waits(), "answered while the exit waited to be applied"
    asking.thread.join(5)
    assert asking.answers == [cri.CONTAINER_EXITED]


def test_an_oom_reported_after_the_exit_changes_the_reason(
    start_shim: StartShim, backend: FakeBackend
) -> None:
    shim, client = start_shim()
    _, container_id = running(client)
    vm_id = vm_id_of(shim, container_id)
    backend.exit(vm_id, 137)
    assert client.container_status(container_id).status.reason == "Error"
    backend.oom_kill(vm_id)
    wait_for(lambda: client.container_status(container_id).status.reason == "OOMKilled")
    assert client.list_containers()[0].state == cri.CONTAINER_EXITED


def test_while_changes_are_not_followed_every_call_asks_the_backend(
    followed: Followed, backend: FakeBackend
) -> None:
    _, client, pod_id, container_id = followed
    backend.stream_breaks()
    before = Counter(backend.reads)
    client.container_status(container_id)
    client.container_status(container_id)
    client.pod_status(pod_id)
    assert backend.reads - before == Counter(inspect_vm=3)
    before = Counter(backend.reads)
    client.list_containers()
    client.list_pods()
    assert backend.reads - before == Counter(list_vms=2), "one list per call, not one read per VM"

    backend.stream_is_back()  # changes missed meanwhile: every record is read once again
    before = Counter(backend.reads)
    for _ in range(3):
        ask_everything(client, pod_id, container_id)
    assert backend.reads - before == Counter(inspect_vm=2)


def test_a_restarted_shim_reads_each_record_once_then_answers_from_memory(
    start_shim: StartShim, backend: FakeBackend
) -> None:
    shim, client = start_shim()
    pod_id, container_id = running(client)
    shim.stop()
    shim, client = start_shim()
    wait_for(lambda: shim.ctx.registry.freshness.follows)
    before = Counter(backend.reads)
    for _ in range(3):
        ask_everything(client, pod_id, container_id)
    assert backend.reads - before == Counter(inspect_vm=2)
    assert client.container_status(container_id).status.state == cri.CONTAINER_RUNNING


@pytest.mark.parametrize("backend", [pytest.param(NeverFollowingBackend(), id="never-following")])
def test_a_backend_that_never_follows_is_asked_on_every_call(
    start_shim: StartShim, backend: FakeBackend
) -> None:
    shim, client = start_shim()
    pod_id, container_id = running(client)
    before = Counter(backend.reads)
    client.container_status(container_id)
    client.container_status(container_id)
    client.pod_status(pod_id)
    client.list_containers()
    assert backend.reads - before == Counter(inspect_vm=3, list_vms=1)
    backend.exit(vm_id_of(shim, container_id), 4)
    assert client.container_status(container_id).status.exit_code == 4


def test_a_read_that_failed_is_made_again(
    client: CriClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, container_id = running(client)
    backend.stream_breaks()
    backend.stream_is_back()  # every record is to be read again
    read = backend.inspect_vm

    def failing(vm_id: str) -> VmStatus:
        raise BackendError("the backend did not answer")

    monkeypatch.setattr(backend, "inspect_vm", failing)
    with pytest.raises(CallFailed):
        client.container_status(container_id)
    monkeypatch.setattr(backend, "inspect_vm", read)
    before = Counter(backend.reads)
    client.container_status(container_id)
    client.container_status(container_id)
    assert backend.reads - before == Counter(inspect_vm=1)


@pytest.mark.parametrize("call", ["status", "list"])
def test_a_start_under_way_is_waited_for_not_answered_from_memory(
    start_shim: StartShim, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    """The workload exits at once, before the backend reports anything: nothing may show it
    CREATED or RUNNING meanwhile."""
    _, client = start_shim()
    config = pod_config()
    container_id = client.create_container(client.run_pod(config), container_config(), config)
    started, release = threading.Event(), threading.Event()

    def exits_at_once(vm_id: str) -> VmStatus:
        vm = backend.vms[vm_id]
        vm.started_at = vm.finished_at = time.time_ns()
        vm.state, vm.exit_code = VmState.EXITED, 0
        return backend.inspect_vm(vm_id)

    def slow_to_read(vm_id: str) -> None:
        started.set()
        release.wait(5)

    monkeypatch.setattr(backend, "start_vm", exits_at_once)
    monkeypatch.setattr(backend, "process_user", slow_to_read)
    starting = threading.Thread(target=client.start_container, args=(container_id,))
    starting.start()
    started.wait(5)
    asking = Asking(client, container_id, call)
    asking.thread.start()
    assert asking.still_waits(), "answered while the start was under way"
    release.set()
    starting.join(5)
    asking.thread.join(5)
    assert asking.answers == [cri.CONTAINER_EXITED]


def test_the_vms_of_a_retired_pod_are_no_longer_current(tmp_path: Path) -> None:
    """RemovePodSandbox retires the pod and its containers in one step (a background teardown
    removes their VMs): none of their VMs may stay current for a record made again later."""
    registry = Registry(Store(tmp_path / "state.db"))
    registry.freshness.following()
    for vm_id in ("pod-vm", "container-vm"):
        with registry.freshness.reading(vm_id):
            pass
    assert registry.freshness.current("pod-vm")
    registry.retire_pod(PodTeardown("pod", "pod-vm", ("container-vm",), network=""))
    assert not registry.freshness.current("pod-vm")
    assert not registry.freshness.current("container-vm")
    registry.store.close()
