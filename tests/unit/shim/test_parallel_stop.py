"""A pod's containers are stopped and killed side by side, with CRI's grace rules kept."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import FakeBackend
from shim_helpers import running_pod

from harness.client import CriClient
from reference_shim.cri import parallel

CONTAINERS = "abc"


@pytest.fixture
def strategy() -> str:
    return "shared-vm"  # several containers live in one pod


@dataclass
class Calls:
    """The backend's stop and kill calls, by VM; each waits for the others to arrive (a
    barrier), so calls made one after another fail instead of passing."""

    barrier: threading.Barrier
    stopped: dict[str, int] = field(default_factory=dict)  # VM -> the grace it was given
    killed: list[str] = field(default_factory=list)


def meeting(backend: FakeBackend, monkeypatch: pytest.MonkeyPatch, parties: int) -> Calls:
    calls = Calls(threading.Barrier(parties, timeout=5))
    stop_vm, kill_vm = backend.stop_vm, backend.kill_vm

    def meeting_stop_vm(vm_id: str, timeout: int, signal: str = "") -> None:
        if backend.vms[vm_id].spec.argv:  # a container's VM (the pod VM runs its image's)
            calls.stopped[vm_id] = timeout
            calls.barrier.wait()
        stop_vm(vm_id, timeout, signal)

    def meeting_kill_vm(vm_id: str) -> None:
        if vm_id in backend.vms and backend.vms[vm_id].spec.argv:
            calls.killed.append(vm_id)
            calls.barrier.wait()
        kill_vm(vm_id)

    monkeypatch.setattr(backend, "stop_vm", meeting_stop_vm)
    monkeypatch.setattr(backend, "kill_vm", meeting_kill_vm)
    return calls


def test_stop_pod_kills_every_container_at_once_without_grace(
    client: CriClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    pod_id, containers = running_pod(client, CONTAINERS)
    calls = meeting(backend, monkeypatch, len(CONTAINERS))
    client.stop_pod(pod_id)
    assert len(calls.killed) == len(CONTAINERS)
    assert calls.stopped == {}, "StopPodSandbox gives containers no grace period"
    exits = [client.container_status(c).status.exit_code for c in containers]
    assert exits == [137] * len(CONTAINERS)
    assert client.pod_status(pod_id).status.state == cri.SANDBOX_NOTREADY


def test_remove_pod_kills_its_running_containers_at_once(
    client: CriClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    pod_id, _ = running_pod(client, CONTAINERS)
    calls = meeting(backend, monkeypatch, len(CONTAINERS))
    client.remove_pod(pod_id)
    assert len(calls.killed) == len(CONTAINERS)
    assert client.list_containers() == []


def test_stop_container_gives_the_grace_it_was_asked_for(
    client: CriClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, containers = running_pod(client, CONTAINERS)
    calls = meeting(backend, monkeypatch, 1)
    client.stop_container(containers[0], timeout=7)
    client.stop_container(containers[1], timeout=0)
    assert list(calls.stopped.values()) == [7]
    assert len(calls.killed) == 1


def test_each_action_runs_a_bounded_number_at_a_time() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def action(_: int) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    parallel.for_each(action, range(3 * parallel.MAX_AT_ONCE))
    assert most == parallel.MAX_AT_ONCE


def test_a_failing_action_cuts_no_other_short_and_its_error_comes_after_all() -> None:
    done: list[int] = []

    def action(item: int) -> None:
        if item in {1, 3}:
            raise ValueError(f"item {item}")
        time.sleep(0.05)
        done.append(item)

    with pytest.raises(ValueError, match="item 1"):
        parallel.for_each(action, [0, 1, 2, 3, 4])
    assert sorted(done) == [0, 2, 4]
