"""The keeper: exit codes through the attached CLI process, and its output as CRI log lines."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import grpc
import pytest
from apple_double import BUSYBOX, CliDouble, wait_for
from cri_specs import container_config, create, pod_config, run_pod

from reference_shim.backends.apple.backend import AppleBackend
from reference_shim.backends.apple.keeper import KeeperFiles
from reference_shim.backends.apple.status import LOST_EXIT
from reference_shim.backends.base import VmChange, VmState, stop
from reference_shim.backends.recorded_output import LineWriter, parse_line
from reference_shim.errors import ShimError
from reference_shim.log_format import MAX_LINE_BYTES


def lines_written(tmp_path: Path, *chunks: bytes) -> list[tuple[str, bytes]]:
    path = tmp_path / "out.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    writer = LineWriter(fd, threading.Lock(), "stderr")
    for chunk in chunks:
        writer.feed(chunk)
    writer.finish()
    os.close(fd)
    records = [parse_line(line) for line in path.read_bytes().splitlines()]
    assert all(r is not None and r.stream == "stderr" for r in records)
    return [("P" if r.partial else "F", r.data) for r in records if r]


def test_lines_are_cut_at_newlines_and_long_lines_into_partial_parts(tmp_path: Path) -> None:
    long = b"x" * (2 * MAX_LINE_BYTES + 10)
    assert lines_written(tmp_path, b"one\ntw", b"o\n\n", long + b"\nlast") == [
        ("F", b"one"), ("F", b"two"), ("F", b""),
        ("P", b"x" * MAX_LINE_BYTES), ("P", b"x" * MAX_LINE_BYTES), ("F", b"x" * 10),
        ("P", b"last"),  # an unterminated last line stays partial, as containerd writes it
    ]  # fmt: skip


@pytest.fixture
def running(backend: AppleBackend) -> str:
    pod = run_pod(backend, pod_config(hostname="runner"))
    vm_id = create(backend, pod, container_config(BUSYBOX))
    backend.start_vm(vm_id)
    return vm_id


def test_output_keeps_its_stream_and_order_and_ends_with_the_workload(
    backend: AppleBackend, double: CliDouble, running: str
) -> None:
    for stream, text in [
        ("stdout", "hello\n"),
        ("stderr", "oops\n"),
        ("stdout", "part"),
        ("stdout", " two\n"),
    ]:
        double.workload_prints(running, stream, text)
    double.workload_exits(running, 0)
    stdout = list(backend.read_output(running, "stdout", since=0))
    stderr = list(backend.read_output(running, "stderr", since=0))
    assert [(r.data, r.partial) for r in stdout] == [(b"hello", False), (b"part two", False)]
    assert [r.data for r in stderr] == [b"oops"]
    assert stdout[0].timestamp <= stdout[1].timestamp  # across streams (two pipes) no order
    assert list(backend.read_output(running, "stdout", since=stdout[1].timestamp)) == stdout[1:]


@pytest.mark.parametrize(("timeout", "code"), [(0, 137), (5, 143)])
def test_stop_reports_the_signal_death(
    backend: AppleBackend, running: str, timeout: int, code: int
) -> None:
    stop(backend, running, timeout)
    status = backend.inspect_vm(running)
    assert (status.state, status.exit_code, status.ip) == (VmState.EXITED, code, "")


def test_the_exit_code_is_caught_while_no_shim_runs(
    backend: AppleBackend, double: CliDouble, running: str, tmp_path: Path
) -> None:
    """The keeper outlives the backend that started it, like a shim killed and restarted."""
    double.workload_exits(running, 7)
    restarted = AppleBackend(double.cli(), tmp_path / "state" / "apple", backend.instance)
    wait_for(lambda: restarted.inspect_vm(running).state is VmState.EXITED)
    assert restarted.inspect_vm(running).exit_code == 7


def test_an_exit_no_keeper_saw_is_reported_as_unknown(
    backend: AppleBackend, double: CliDouble, running: str, tmp_path: Path
) -> None:
    files = KeeperFiles(tmp_path / "state" / "apple" / "vms" / running)
    os.kill(int(files.pid.read_text()), signal.SIGKILL)
    wait_for(lambda: not files.keeper_alive())
    double.workload_exits(running, 0)
    wait_for(lambda: double.state(running) == "stopped")
    status = backend.inspect_vm(running)
    assert (status.state, status.exit_code, status.error) == (VmState.EXITED, None, LOST_EXIT)
    assert backend.inspect_vm(running).finished_at == status.finished_at  # settled once


class SeenChanges:
    """A ``VmChanges`` that keeps what it is told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, VmChange]] = []
        self.followed = False

    def following(self) -> None:
        self.followed = True

    def changed(self, vm_id: str, change: VmChange) -> None:
        self.seen.append((vm_id, change))

    def lost(self) -> None:
        self.followed = False


def test_exits_are_reported_to_the_watcher_which_is_never_told_they_are_followed(
    backend: AppleBackend, double: CliDouble, running: str
) -> None:
    """Exits are found by polling the keepers, later than ``inspect`` shows them: the shim must
    keep asking the CLI on status calls."""
    changes = SeenChanges()
    stop = threading.Event()
    watcher = threading.Thread(target=backend.watch_changes, args=(changes, stop))
    watcher.start()
    try:
        double.workload_exits(running, 1)
        wait_for(lambda: changes.seen == [(running, VmChange.EXITED)])
    finally:
        stop.set()
        watcher.join()
    assert not changes.followed


def test_exec_returns_the_command_result(
    backend: AppleBackend, double: CliDouble, running: str
) -> None:
    double.reply_to_exec(["ls", "-l", "/"], stdout="bin\n", stderr="warn\n", exit_code=2)
    result = backend.exec_sync(running, ["ls", "-l", "/"], timeout=10)
    assert (result.exit_code, result.stdout, result.stderr) == (2, b"bin\n", b"warn\n")
    assert double.last("exec") == ["exec", running, "ls", "-l", "/"]


def test_an_exec_past_its_timeout_is_terminated(
    backend: AppleBackend, double: CliDouble, running: str
) -> None:
    double.reply_to_exec(["sleep", "60"], delay_s=60)
    with pytest.raises(ShimError) as failure:
        backend.exec_sync(running, ["sleep", "60"], timeout=0.5)
    assert failure.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert "timeout of 0.5s" in str(failure.value)


def test_stats_of_a_container_and_of_its_pod(backend: AppleBackend, double: CliDouble) -> None:
    pod = run_pod(backend, pod_config(hostname="measured"))
    vm_id = create(backend, pod, container_config(BUSYBOX))
    assert backend.stats(vm_id) is None  # not running: Apple leaves it out
    backend.start_vm(vm_id)
    double.set_stats(
        vm_id, cpuUsageUsec=5, memoryUsageBytes=300, networkRxBytes=11, networkTxBytes=22
    )
    container = backend.stats(vm_id)
    assert container is not None
    assert (container.cpu_usage_ns, container.memory_usage, container.network_rx_bytes) == (
        5000,
        300,
        11,
    )
    assert double.last("stats") == ["stats", "--no-stream", "--format", "json", vm_id]
    pod_stats = backend.stats(pod.vm_id)
    assert pod_stats is not None
    assert (pod_stats.cpu_usage_ns, pod_stats.memory_usage) == (0, 0)  # counted as the container's
    assert (pod_stats.network_rx_bytes, pod_stats.network_tx_bytes) == (11, 22)


def test_simultaneous_stats_of_one_vm_share_a_sample(
    backend: AppleBackend, double: CliDouble, running: str
) -> None:
    double.settings(stats_delay_s=0.5)
    samples: list[object] = []
    callers = [
        threading.Thread(target=lambda: samples.append(backend.stats(running))) for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(double.calls("stats")) == 1
    assert samples[0] is samples[1] is not None
