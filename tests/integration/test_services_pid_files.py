"""`scripts/services stop` signals a pid only while it is the service's own process.

A service that died leaves its pid file behind, and pids wrap (32768 here): the pid soon names
another process. Each case runs the script on a services folder of its own (CRI_SERVICES_DIR),
with processes this test starts, so the shared services are never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "scripts" / "services"


def services(state: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SERVICES), *arguments],
        env={**os.environ, "CRI_SERVICES_DIR": str(state)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.kill()
        process.wait()


def sleeper(*arguments: str) -> subprocess.Popen[bytes]:
    """A process in a session of its own (as the script's spawn makes them), named by arguments."""
    code = "import time; time.sleep(120)"
    return subprocess.Popen([sys.executable, "-c", code, *arguments], start_new_session=True)


def test_stop_leaves_alone_a_process_that_holds_a_stale_pid(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    stranger = sleeper("not-a-service")
    started.append(stranger)
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "registry.pid").write_text(f"{stranger.pid}\n")
    assert "registry: stopped" in services(tmp_path, "status").stdout
    done = services(tmp_path, "stop", "registry")
    assert stranger.poll() is None, "stop signalled a process that is not the service"
    assert "no longer ran" in done.stderr
    assert not (tmp_path / "registry" / "registry.pid").exists()


def test_stop_ends_the_services_own_process(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    (tmp_path / "registry").mkdir()
    own = sleeper(str(tmp_path / "registry" / "registry.yml"))
    started.append(own)
    (tmp_path / "registry" / "registry.pid").write_text(f"{own.pid}\n")
    assert f"registry: running (pid {own.pid})" in services(tmp_path, "status").stdout
    services(tmp_path, "stop", "registry")
    assert own.wait(timeout=30) is not None
    assert not (tmp_path / "registry" / "registry.pid").exists()
