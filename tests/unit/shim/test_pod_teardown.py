"""RemovePodSandbox answers before the pod's VMs and network are removed, and loses nothing.

The pod is gone for CRI when the call returns; its stored teardown removes what it left in the
background, is finished by a restarted shim when the first one died, retried when it failed,
and finished by a clean stop.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import FakeBackend
from shim_helpers import (
    StartShim,
    container_config,
    pod_config,
    refused,
    running_pod,
    vm_of,
    vm_of_id,
    wait_for,
)

from harness.client import CallFailed
from reference_shim.backends.base import VmState
from reference_shim.cri import recovery
from reference_shim.cri.recovery import reconcile
from reference_shim.errors import BackendError, ResourceExhausted
from reference_shim.server import Shim
from reference_shim.state.records import ContainerRecord, PodRecord, PodTeardown
from reference_shim.state.store import Store


@pytest.fixture
def strategy() -> str:
    return "separate-vms"


@pytest.fixture(autouse=True)
def no_late_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the passes a test runs itself retry a teardown."""
    monkeypatch.setattr(recovery, "LATE_RECONCILES_S", (600.0,))


@dataclass
class Held:
    """Backend VM removals wait until ``release`` is set, so a teardown stays under way."""

    release: threading.Event = field(default_factory=threading.Event)
    removed_by: list[str] = field(default_factory=list)  # the threads that removed VMs


@pytest.fixture
def held(backend: FakeBackend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Held]:
    held = Held()
    remove_vm = backend.remove_vm

    def held_remove_vm(vm_id: str) -> None:
        held.release.wait(10)
        held.removed_by.append(threading.current_thread().name)
        remove_vm(vm_id)

    monkeypatch.setattr(backend, "remove_vm", held_remove_vm)
    yield held
    held.release.set()


def torn_down(backend: FakeBackend, shim: Shim) -> bool:
    return not backend.vms and not backend.pod_nets and not shim.store.load_teardowns()


def test_a_removed_pod_is_gone_for_cri_while_its_vms_and_network_are_removed(
    start_shim: StartShim, backend: FakeBackend, held: Held, tmp_path: Path
) -> None:
    shim, client = start_shim()
    pod_id, containers = running_pod(client, "ab")
    vms = [vm_of(backend, object_id) for object_id in (pod_id, *containers)]
    client.remove_pod(pod_id)

    assert client.list_pods() == []
    assert client.list_containers() == []
    with refused(grpc.StatusCode.NOT_FOUND):
        client.pod_status(pod_id)
    with refused(grpc.StatusCode.NOT_FOUND):
        client.container_status(containers[1])
    assert [vm.state for vm in vms] == [VmState.EXITED] * 3, "what ran was killed at once"
    assert list(backend.pod_nets.values()) == [pod_id]
    (stored,) = Store(tmp_path / "state" / "state.db").load_teardowns()
    assert stored.pod_id == pod_id
    assert sorted(stored.vm_ids) == sorted(backend.vms)

    held.release.set()
    wait_for(lambda: torn_down(backend, shim))
    assert not (tmp_path / "state" / "pods" / pod_id).exists()
    client.remove_pod(pod_id)  # still idempotent


def test_a_pod_of_the_same_name_runs_while_the_removed_one_is_torn_down(
    start_shim: StartShim, backend: FakeBackend, held: Held
) -> None:
    _, client = start_shim()
    old_id, _ = running_pod(client, "ab")
    client.remove_pod(old_id)
    new_id = client.run_pod(pod_config())
    assert client.pod_status(new_id).status.state == cri.SANDBOX_READY
    assert vm_of(backend, new_id).spec.name != vm_of(backend, old_id).spec.name
    assert sorted(backend.pod_nets.values()) == sorted([old_id, new_id])
    assert [pod.id for pod in client.list_pods()] == [new_id]


def test_a_teardown_a_killed_shim_left_is_finished_at_its_restart(
    start_shim: StartShim, backend: FakeBackend, tmp_path: Path
) -> None:
    first, client = start_shim()
    pod_id, containers = running_pod(client, "ab")
    first.stop()  # the pod stays; its removal is then stored as a shim killed after it would
    teardown = PodTeardown(
        pod_id=pod_id,
        pod_vm=vm_of_id(backend, pod_id),
        container_vms=tuple(vm_of_id(backend, container) for container in containers),
        network=next(iter(backend.pod_nets)),
    )
    store = Store(tmp_path / "state" / "state.db")
    store.retire_pod(teardown)
    store.close()

    second, client = start_shim()
    assert client.list_pods() == []
    assert client.list_containers() == []
    wait_for(lambda: torn_down(backend, second))
    assert not (tmp_path / "state" / "pods" / pod_id).exists()


def test_a_failed_teardown_stays_stored_and_the_next_reconcile_pass_finishes_it(
    start_shim: StartShim,
    backend: FakeBackend,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shim, client = start_shim()
    pod_id, _ = running_pod(client, "a")
    remove_pod_network = backend.remove_pod_network
    failures = iter([BackendError("the engine is busy")])

    def failing_once(name: str) -> None:
        for failure in failures:
            raise failure
        remove_pod_network(name)

    monkeypatch.setattr(backend, "remove_pod_network", failing_once)
    client.remove_pod(pod_id)
    wait_for(lambda: "the engine is busy" in caplog.text)
    assert [t.pod_id for t in shim.store.load_teardowns()] == [pod_id]
    assert list(backend.pod_nets.values()) == [pod_id]
    reconcile(shim.ctx)
    wait_for(lambda: torn_down(backend, shim))


def test_reconciling_leaves_a_teardowns_vms_to_it(
    start_shim: StartShim, backend: FakeBackend, held: Held
) -> None:
    shim, client = start_shim()
    pod_id, _ = running_pod(client, "ab")
    client.remove_pod(pod_id)
    reconcile(shim.ctx)  # would hang on the held removals if it took the VMs for leftovers
    held.release.set()
    wait_for(lambda: torn_down(backend, shim))
    assert held.removed_by
    assert all(name.startswith("pod-") for name in held.removed_by)


def test_a_clean_stop_finishes_the_teardowns_under_way(
    start_shim: StartShim, backend: FakeBackend, held: Held, tmp_path: Path
) -> None:
    shim, client = start_shim()
    pod_id, _ = running_pod(client, "ab")
    client.remove_pod(pod_id)
    threading.Timer(0.3, held.release.set).start()
    shim.stop()
    assert (backend.vms, backend.pod_nets) == ({}, {})
    assert Store(tmp_path / "state" / "state.db").load_teardowns() == []


def test_a_pod_out_of_addresses_waits_for_removed_pods_to_free_theirs(
    start_shim: StartShim,
    backend: FakeBackend,
    held: Held,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backend with room for one pod network: the next pod gets it once the teardown of the
    removed one has ended."""
    create_pod_network = backend.create_pod_network

    def one_at_a_time(pod_id: str) -> str:
        if backend.pod_nets:
            raise ResourceExhausted("no free address pool")
        return create_pod_network(pod_id)

    monkeypatch.setattr(backend, "create_pod_network", one_at_a_time)
    _, client = start_shim()
    old_id = client.run_pod(pod_config("old"))
    client.remove_pod(old_id)
    threading.Timer(0.3, held.release.set).start()
    new_id = client.run_pod(pod_config("new"))
    assert list(backend.pod_nets.values()) == [new_id]


def test_the_store_replaces_a_pods_records_with_its_teardown_at_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.save_pod(PodRecord(id="p1", config=pod_config(), runtime_handler="", created_at=1))
    store.save_pod(PodRecord(id="p2", config=pod_config("q"), runtime_handler="", created_at=2))
    for number, pod_id in enumerate(["p1", "p1", "p2"]):
        store.save_container(
            ContainerRecord(
                id=f"c{number}", pod_id=pod_id, config=container_config(), created_at=number,
                image_ref="", image_id="", log_path="",
            )
        )  # fmt: skip
        store.save_log_progress(f"c{number}", "stdout", 5, 1, done=False)
    teardown = PodTeardown("p1", "vm-p1", ("vm-c0", "vm-c1"), "net-p1")
    store.retire_pod(teardown)
    store.close()

    reopened = Store(tmp_path / "state.db")
    assert [pod.id for pod in reopened.load_pods()] == ["p2"]
    assert [container.id for container in reopened.load_containers()] == ["c2"]
    assert reopened.log_progress("c0", "stdout") == (0, 0, False)
    assert reopened.log_progress("c2", "stdout") == (5, 1, False)
    assert reopened.load_teardowns() == [teardown]
    reopened.delete_teardown("p1")
    assert reopened.load_teardowns() == []


def test_a_call_that_waited_for_a_removal_finds_the_container_gone(
    start_shim: StartShim, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UpdateContainerResources waits for the container's lock while RemoveContainer holds it;
    then the container is gone (NOT_FOUND), not merely stopped."""
    _, client = start_shim()
    _, (container_id,) = running_pod(client, "a")
    removing, release = threading.Event(), threading.Event()
    remove_vm = backend.remove_vm

    def slow_remove_vm(vm_id: str) -> None:
        removing.set()
        release.wait(10)
        remove_vm(vm_id)

    monkeypatch.setattr(backend, "remove_vm", slow_remove_vm)
    remover = threading.Thread(target=client.remove_container, args=(container_id,))
    remover.start()
    assert removing.wait(10)
    refusals: list[grpc.StatusCode] = []

    def update() -> None:
        try:
            client.update_container_resources(container_id, cri.LinuxContainerResources())
        except CallFailed as refusal:
            refusals.append(refusal.code)

    updater = threading.Thread(target=update)
    updater.start()
    updater.join(0.3)  # it waits for the container's lock
    release.set()
    remover.join(10)
    updater.join(10)
    assert refusals == [grpc.StatusCode.NOT_FOUND]
    assert client.list_containers() == []
