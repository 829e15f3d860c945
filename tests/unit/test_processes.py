"""A recorded process is stopped only while it is the one recorded (harness/processes.py).

The pid of a process that ended is soon another process's; these tests hand the stopper a
record whose pid is alive but whose start time is not the recorded one, the shape a pid reuse
takes, and check that nothing is signalled.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness import embedded
from harness.images.local_registry import LocalRegistry, listening
from harness.images.registry import RegistryError
from harness.processes import StartedProcess


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_a_recorded_process_that_still_runs_is_stopped(
    sleeper: subprocess.Popen[bytes],
) -> None:
    recorded = StartedProcess.of(sleeper.pid)
    recorded.stop(grace=10)
    assert recorded.current() is None
    assert not psutil.pid_exists(sleeper.pid) or psutil.Process(sleeper.pid).create_time() != (
        recorded.started_at
    )


def test_a_pid_that_another_process_holds_now_is_left_alone(
    sleeper: subprocess.Popen[bytes],
) -> None:
    recorded = StartedProcess(sleeper.pid, StartedProcess.of(sleeper.pid).started_at - 5)
    assert recorded.current() is None
    recorded.stop(grace=1)
    time.sleep(0.2)
    assert sleeper.poll() is None, "a process the record does not name was signalled"


def test_a_process_that_ended_is_not_current(sleeper: subprocess.Popen[bytes]) -> None:
    recorded = StartedProcess.of(sleeper.pid)
    sleeper.kill()
    sleeper.wait()
    assert recorded.current() is None
    recorded.stop(grace=1)  # nothing to do, and no error


def test_the_embedded_shim_record_of_a_reused_pid_stops_nothing(tmp_path: Path) -> None:
    # The record of a shim that crashed; this test process now holds its pid.
    workdir = tmp_path / "shim-workdir"
    workdir.mkdir()
    (tmp_path / "embedded-shim.json").write_text(
        json.dumps(
            {
                "endpoint": "unix:///nowhere",
                "pid": os.getpid(),
                "started_at": psutil.Process().create_time() - 60,
                "workdir": str(workdir),
                "stderr": str(workdir / "shim.stderr"),
            }
        )
    )
    embedded.stop(tmp_path, grace=1)  # this test would end here if it signalled the pid
    assert not workdir.exists()
    assert not (tmp_path / "embedded-shim.json").exists()


class SlowRegistry:
    """Listens on loopback, and answers GET /v2/ only after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.ready_at = time.monotonic() + delay
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                connection.recv(4096)
                if time.monotonic() < self.ready_at:
                    time.sleep(1.5)  # longer than the client waits for an answer
                    continue
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    def close(self) -> None:
        self.server.close()


def test_a_registry_slow_to_answer_is_waited_for_not_doubled(tmp_path: Path) -> None:
    slow = SlowRegistry(delay=2.5)
    try:
        assert listening(slow.address)
        registry = LocalRegistry(slow.address, tmp_path)
        assert registry.start(wait_seconds=15) is False  # it served: none of ours started
        assert not registry.pid_file.exists()
    finally:
        slow.close()


def test_a_port_held_by_something_that_is_no_registry_is_refused(tmp_path: Path) -> None:
    slow = SlowRegistry(delay=3600)
    try:
        with pytest.raises(RegistryError, match="does not answer GET /v2/"):
            LocalRegistry(slow.address, tmp_path).start(wait_seconds=2)
    finally:
        slow.close()
