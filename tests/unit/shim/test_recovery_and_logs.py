"""State survives a restart, is reconciled with the backend, and logs resume without repeats."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import FakeBackend
from shim_helpers import StartShim, container_config, pod_config, vm_of, wait_for

from harness.client import CriClient
from reference_shim.backends.base import OutputRecord
from reference_shim.cri.logs import AlreadyWritten, LogPump, Progress, progress_in_file
from reference_shim.errors import FailedPrecondition
from reference_shim.log_format import format_lines
from reference_shim.state.store import Store


def test_long_lines_are_cut_into_partial_parts_ending_with_a_full_one() -> None:
    record = OutputRecord(
        timestamp=1_700_000_000_000_000_001, stream="stdout", data=b"x" * 10, partial=False
    )
    lines = format_lines(record, max_line=4)
    assert [line.split(b" ")[2] for line in lines] == [b"P", b"P", b"F"]
    assert b"".join(line.rstrip(b"\n").split(b" ", 3)[3] for line in lines) == b"x" * 10
    assert lines[0].startswith(b"2023-11-14T22:13:20.000000001Z stdout P ")


def test_a_backend_partial_message_stays_partial() -> None:
    record = OutputRecord(timestamp=1, stream="stderr", data=b"abc", partial=True)
    assert format_lines(record) == [b"1970-01-01T00:00:00.000000001Z stderr P abc\n"]


def test_the_progress_of_each_stream_is_read_back(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    log.write_bytes(
        b"1970-01-01T00:00:01Z stdout F a\n1970-01-01T00:00:03Z stderr F b\n"
        b"1970-01-01T00:00:02Z stdout P c\n"
    )
    assert progress_in_file(log) == {
        "stdout": Progress(2_000_000_000, 1),
        "stderr": Progress(3_000_000_000, 1),
    }


def pod_with_logs(client: CriClient, logs: Path) -> tuple[cri.PodSandboxConfig, str]:
    config = pod_config()
    config.log_directory = str(logs)
    return config, client.run_pod(config)


def logging_container(name: str) -> cri.ContainerConfig:
    """A container that logs to ``<name>.log`` in its pod's log directory."""
    config = container_config(name)
    config.log_path = f"{name}.log"
    return config


def test_a_restarted_shim_finds_everything_and_reconciles_it(
    start_shim: StartShim, backend: FakeBackend, tmp_path: Path
) -> None:
    shim, client = start_shim()
    config, pod_id = pod_with_logs(client, tmp_path / "logs")
    container_id = client.create_container(pod_id, logging_container("c"), config)
    client.start_container(container_id)
    vm_id = next(v for v, vm in backend.vms.items() if vm.spec.placement.inside)
    backend.emit(vm_id, "stdout", b"before")
    log = tmp_path / "logs" / "c.log"
    wait_for(lambda: log.exists() and b"before" in log.read_bytes())
    shim.stop()

    backend.emit(vm_id, "stdout", b"while down")
    backend.exit(vm_id, 7)
    orphan = backend.create_vm(next(iter(backend.vms.values())).spec)

    _, client = start_shim()
    assert [p.id for p in client.list_pods()] == [pod_id]
    status = client.container_status(container_id).status
    assert (status.state, status.exit_code) == (cri.CONTAINER_EXITED, 7)
    assert orphan not in backend.vms
    wait_for(lambda: b"while down" in log.read_bytes())
    lines = log.read_bytes().splitlines()
    assert [line.split(b" ", 3)[3] for line in lines] == [b"before", b"while down"]


@pytest.mark.parametrize("strategy", ["separate-vms"])
def test_a_start_the_shim_died_in_is_completed_on_restart(
    start_shim: StartShim, backend: FakeBackend, tmp_path: Path
) -> None:
    """The shim was killed after the backend started the VM, before it saved the start."""
    shim, client = start_shim()
    config, pod_id = pod_with_logs(client, tmp_path / "logs")
    client.start_container(client.create_container(pod_id, container_config("first"), config))
    container_id = client.create_container(pod_id, logging_container("second"), config)
    shim.stop()
    target = vm_of(backend, container_id)
    vm_id = next(v for v, vm in backend.vms.items() if vm is target)
    backend.start_vm(vm_id)
    backend.emit(vm_id, "stdout", b"started while the shim was down")

    _, client = start_shim()
    response = client.container_status(container_id, verbose=True)
    assert response.status.state == cri.CONTAINER_RUNNING
    assert response.status.user.linux.supplemental_groups == [0]  # read from the process
    assert json.loads(response.info["info"])["vm_ip"] == backend.vms[vm_id].ip != ""
    log = tmp_path / "logs" / "second.log"
    wait_for(lambda: log.exists() and b"while the shim was down" in log.read_bytes())


def test_a_vm_that_vanished_leaves_an_exited_container_with_unknown_exit(
    start_shim: StartShim, backend: FakeBackend
) -> None:
    shim, client = start_shim()
    config = pod_config()
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    client.start_container(container_id)
    shim.stop()
    backend.vms.clear()

    _, client = start_shim()
    status = client.container_status(container_id).status
    assert (status.state, status.exit_code, status.reason) == (cri.CONTAINER_EXITED, 255, "Unknown")
    assert client.pod_status(pod_id).status.state == cri.SANDBOX_NOTREADY


def test_reopen_log_starts_a_new_file_at_the_path(
    client: CriClient, backend: FakeBackend, tmp_path: Path
) -> None:
    config = pod_config()
    config.log_directory = str(tmp_path)
    pod_id = client.run_pod(config)
    logged = container_config()
    logged.log_path = "c.log"
    container_id = client.create_container(pod_id, logged, config)
    client.start_container(container_id)
    vm_id = next(v for v, vm in backend.vms.items() if vm.spec.placement.inside)
    backend.emit(vm_id, "stdout", b"one")
    log = tmp_path / "c.log"
    wait_for(lambda: b"one" in log.read_bytes())
    log.rename(tmp_path / "c.log.1")
    client.reopen_container_log(container_id)
    backend.emit(vm_id, "stderr", b"two")
    wait_for(lambda: log.exists() and b"two" in log.read_bytes())
    assert b"one" not in log.read_bytes()


def test_parts_sharing_a_timestamp_resume_after_the_bytes_already_written() -> None:
    first_part = OutputRecord(5, "stdout", b"abcd", partial=True)
    second_part = OutputRecord(5, "stdout", b"efgh", partial=False)
    already_written = AlreadyWritten(Progress(timestamp=5, bytes_at_timestamp=6))
    assert already_written.strip(OutputRecord(4, "stdout", b"old", partial=False)) is None
    assert already_written.strip(first_part) is None
    assert already_written.strip(second_part) == OutputRecord(5, "stdout", b"gh", False)
    assert AlreadyWritten(Progress(4, 100)).strip(second_part) == second_part


def test_state_of_another_schema_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from reference_shim.state.store import StateError, Store

    Store(tmp_path / "state.db").set_meta("schema", "0")
    with pytest.raises(StateError, match="move the state dir away"):
        Store(tmp_path / "state.db")


class LateLastLine:
    """A backend whose follow ends before it stored the workload's last, partial message."""

    def __init__(self) -> None:
        self.reads: list[int] = []
        self.stored = [OutputRecord(1_000, "stdout", b"done", partial=False)]

    def read_output(self, vm_id: str, stream: str, since: int) -> Iterator[OutputRecord]:
        if stream == "stdout":
            self.reads.append(since)
        found = [r for r in self.stored if r.stream == stream and r.timestamp >= since]
        if stream == "stdout" and len(self.stored) == 1:
            self.stored.append(OutputRecord(2_000, "stdout", b"no newline", partial=True))
        return iter(found)


def test_the_last_message_stored_after_the_follow_ended_is_copied_once(tmp_path: Path) -> None:
    backend = LateLastLine()
    store = Store(tmp_path / "state.db")
    pump = LogPump(backend, store, "c1", "vm1", tmp_path / "c.log")  # type: ignore[arg-type]  # a fake backend: the calls LogPump makes
    pump.start()
    pump.wait(5)
    pump.close()
    lines = (tmp_path / "c.log").read_bytes().splitlines()
    assert [line.split(b" ", 2)[2] for line in lines] == [b"F done", b"P no newline"]
    assert backend.reads == [0, 1_000]  # the second read starts where the first ended
    store.close()


class VanishingBackend:
    """A VM whose output ends, then is removed before the copier's second read (Docker: 409
    "can not get logs from container which is dead or marked for removal")."""

    def __init__(self) -> None:
        self.reads = 0

    def read_output(self, vm_id: str, stream: str, since: int) -> Iterator[OutputRecord]:
        self.reads += 1
        if self.reads > 2:
            raise FailedPrecondition("read output of VM: marked for removal")
        return iter([])


def test_a_vm_removed_while_its_output_is_read_ends_the_copy_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The fuzz test found a traceback at ERROR for every container removed this way."""
    store = Store(tmp_path / "state.db")
    pump = LogPump(VanishingBackend(), store, "c1", "vm1", tmp_path / "c.log")  # type: ignore[arg-type]  # a fake backend: the calls LogPump makes
    pump.start()
    pump.wait(5.0)
    assert not pump.running
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    pump.close()
    store.close()


def test_two_callers_starting_a_containers_log_copier_at_once_start_one(
    start_shim: StartShim, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """StartContainer and a reconcile pass may both start the copier of a container that has
    none; a copier registered but not yet running must not look finished to the other."""
    shim, client = start_shim()
    config, pod_id = pod_with_logs(client, tmp_path / "logs")
    container_id = client.create_container(pod_id, logging_container("c"), config)
    client.start_container(container_id)
    container = shim.ctx.registry.container(container_id)
    shim.ctx.drop_pump(container_id, 0)
    started: list[LogPump] = []
    start = LogPump.start

    def slow_start(pump: LogPump) -> None:
        started.append(pump)
        time.sleep(0.2)  # the window between registering the copier and its threads running
        start(pump)

    monkeypatch.setattr(LogPump, "start", slow_start)
    callers = [
        threading.Thread(
            target=shim.ctx.start_pump,
            args=(container_id, container.vm_id, Path(container.log_path)),
        )
        for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(5)
    assert len(started) == 1
