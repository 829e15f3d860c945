"""The local OCI registry the suite pulls from, and pushing built images into it.

Tests never touch the internet: when no ``--cri-image-registry`` is given, the harness serves the
test images from Debian's ``docker-registry`` on 127.0.0.1. Runtimes treat loopback registries
as plain HTTP (containerd needs a mirror entry for it; see scripts/services).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.images import oci
from harness.images.builder import BuiltImage, reference
from harness.images.distribution import PushError, Repository, push_tags
from harness.processes import StartedProcess

DEFAULT_ADDRESS = "127.0.0.1:5000"
REPOSITORY_PREFIX = "cri-conformance"

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


class RegistryError(Exception):
    """The registry cannot be started or reached."""


def answers(address: str, timeout: float = 1.0) -> bool:
    """True when an OCI distribution API answers at ``address`` over plain HTTP."""
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


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


def repository(registry: str, image_name: str) -> str:
    return f"{registry}/{REPOSITORY_PREFIX}/{image_name}"


def push(image: BuiltImage, registry: str) -> list[str]:
    """Put every tag of ``image`` into ``registry``; return the references pushed.

    Straight from the layout over the registry's HTTP API (distribution.py): no tool needed.
    """
    layout = oci.Layout(image.layout)
    top = layout.tags()[reference(image.recipe, image.tags[0])]
    name = repository(registry, image.recipe.name)
    try:
        push_tags(layout, Repository(registry, name.split("/", 1)[1]), top, image.tags)
    except PushError as error:
        raise RegistryError(f"pushing {name}: {error}") from error
    return [f"{name}:{tag}" for tag in image.tags]
