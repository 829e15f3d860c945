"""A ``docker-registry`` the run starts on loopback when no registry serves the test images.

The process is owned through a pid file that records its start time too (harness/processes.py):
the run stops it at the end, and never a process that merely holds its pid by then.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.images.registry import RegistryError, answers
from harness.processes import StartedProcess

REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: {address}
"""


def listening(address: str, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections at ``address`` (host:port)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def _until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll ``condition`` every 0.1 s for up to ``seconds``; whether it came true."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


@dataclass
class LocalRegistry:
    """A ``docker-registry`` process on loopback, owned through a pid file."""

    address: str
    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "registry.pid"

    def start(self, wait_seconds: float = 15.0) -> bool:
        """Start the registry unless one serves already; True if this call started it.

        A registry that is listening but slow to answer (a loaded machine) is waited for: a
        second one could not bind the port, and the run would stop for nothing."""
        if answers(self.address):
            return False
        if listening(self.address):
            if _until(lambda: answers(self.address), wait_seconds):
                return False
            raise RegistryError(
                f"something listens on {self.address} but does not answer GET /v2/ as an OCI "
                f"registry within {wait_seconds:g}s; free the port, or pass --cri-image-registry"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        config = self.state_dir / "registry.yml"
        config.write_text(
            REGISTRY_CONFIG.format(storage=self.state_dir / "data", address=self.address)
        )
        try:
            with (self.state_dir / "registry.log").open("ab") as log:
                process = subprocess.Popen(
                    ["docker-registry", "serve", str(config)],
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
        except FileNotFoundError as error:
            raise RegistryError(
                "docker-registry is not installed: run scripts/services install, "
                "or pass --cri-image-registry with a registry that holds the test images"
            ) from error
        self.pid_file.write_text(json.dumps(asdict(StartedProcess.of(process.pid))))

        def ended() -> bool:
            return process.poll() is not None

        if _until(lambda: answers(self.address) or ended(), wait_seconds) and not ended():
            return True
        self.stop()
        raise RegistryError(
            f"docker-registry did not answer on {self.address}; see {self.state_dir}/registry.log"
        )

    def stop(self) -> None:
        """Stop the registry this object started, if it still runs (and nothing else)."""
        try:
            started = StartedProcess(**json.loads(self.pid_file.read_text()))
        except FileNotFoundError:
            return
        started.stop(grace=10.0)
        self.pid_file.unlink(missing_ok=True)
