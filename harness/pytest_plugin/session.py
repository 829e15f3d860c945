"""One test run against one runtime, shared by every pytest-xdist worker.

Each process (the controller, or each worker) holds a ``CriSession``; the parts that must
happen once per run (starting the local registry, pushing the test images) happen under a
file lock in a folder all workers share, and leave a record there that the controller reads
at the end to sweep leaks and stop what the run started.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cri_api.v1 import api_pb2 as cri
from filelock import FileLock

from harness import embedded
from harness import endpoints as endpoint_resolution
from harness.client import CriClient
from harness.embedded import EmbeddedShim
from harness.endpoints import Endpoints
from harness.factories import ImagePuller
from harness.images.catalog import ImageCatalog, prepare
from harness.images.local_registry import LocalRegistry
from harness.images.preflight import check_pull
from harness.images.registry import DEFAULT_ADDRESS
from harness.ownership import RunOwnership
from harness.processes import run_owner_pid
from harness.resources import Sweep, sweep


@dataclass(frozen=True)
class Settings:
    """The run's options, identical in every process of the run."""

    run_id: str
    shared_dir: Path
    runtime_flag: str | None = None
    image_flag: str | None = None
    configured: tuple[str | None, str | None] = (None, None)  # the ini settings' endpoints
    timeout: float = 30.0
    image_registry: str | None = None
    runtime_handler: str = ""
    shim: EmbeddedShim = field(default_factory=EmbeddedShim)

    @property
    def ownership(self) -> RunOwnership:
        return RunOwnership(self.run_id)

    @property
    def endpoints_record(self) -> Path:
        return self.shared_dir / "endpoints.json"

    @property
    def setup_error(self) -> Path:
        return self.shared_dir / "setup-error.txt"

    @property
    def registry_dir(self) -> Path:
        return self.shared_dir / "registry"

    @property
    def lock(self) -> FileLock:
        return FileLock(str(self.shared_dir / "setup.lock"))


def given_endpoints(settings: Settings) -> Endpoints | None:
    """The endpoints the user named, or None to test the embedded reference shim."""
    return endpoint_resolution.resolve(
        settings.runtime_flag, settings.image_flag, configured=settings.configured
    )


class CriSession:
    """The connected client, the test images and the image puller of one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def client(self) -> CriClient:
        endpoints = given_endpoints(self.settings)
        if endpoints is None:
            endpoints = self._start_embedded_shim()
        else:
            endpoint_resolution.check_sockets(endpoints)
        client = CriClient(endpoints, self.settings.timeout)
        self.version = version = client.connect()
        self.settings.shared_dir.mkdir(parents=True, exist_ok=True)
        self.settings.endpoints_record.write_text(
            json.dumps(
                {
                    "runtime": endpoints.runtime,
                    "image": endpoints.image,
                    "source": endpoints.source,
                    "version": {
                        "runtime_name": version.runtime_name,
                        "runtime_version": version.runtime_version,
                        "runtime_api_version": version.runtime_api_version,
                    },
                }
            )
        )
        return client

    @cached_property
    def version(self) -> cri.VersionResponse:
        return self.client.version()

    @cached_property
    def images(self) -> ImageCatalog:
        """The catalog in the run's registry; the first process to get here publishes it."""
        settings = self.settings
        settings.shared_dir.mkdir(parents=True, exist_ok=True)
        published = settings.shared_dir / "images-published"
        with settings.lock:
            if settings.image_registry:
                return prepare(settings.image_registry, publish=False)
            if published.exists():
                return prepare(DEFAULT_ADDRESS, publish=False)
            LocalRegistry(DEFAULT_ADDRESS, settings.registry_dir).start()
            catalog = prepare(DEFAULT_ADDRESS, publish=True)
            published.touch()
            return catalog

    def check_images(self) -> None:
        """Once per run, by the first process to get here: the runtime pulls the default image,
        or the run stops with one error that says why (images/preflight.py)."""
        client, images = self.client, self.images
        checked = self.settings.shared_dir / "images-pullable"
        with self.settings.lock:
            if not checked.exists():
                check_pull(client, images.busybox, self.version.runtime_name)
                checked.touch()

    def _start_embedded_shim(self) -> Endpoints:
        pod_image = self.images.pause.ref  # published first: the shim pulls it for every pod
        with self.settings.lock:
            return embedded.start(
                self.settings.shim, self.settings.shared_dir, pod_image, run_owner_pid()
            )

    @cached_property
    def puller(self) -> ImagePuller:
        return ImagePuller(self.client)

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()


def finish_run(settings: Settings) -> Sweep | None:
    """At the very end of a run: sweep this run's leaks, stop what the run started.

    Returns None when no process of the run ever connected to a runtime; raises CriError when
    the sweep could not list what is left.
    """
    try:
        return _sweep_recorded_runtime(settings)
    finally:
        embedded.stop(settings.shared_dir)
        LocalRegistry(DEFAULT_ADDRESS, settings.registry_dir).stop()


def _sweep_recorded_runtime(settings: Settings) -> Sweep | None:
    if not settings.endpoints_record.exists():
        return None
    record = json.loads(settings.endpoints_record.read_text())
    endpoints = Endpoints(runtime=record["runtime"], image=record["image"], source="run")
    client = CriClient(endpoints, settings.timeout)
    try:
        return sweep(client, settings.ownership)
    finally:
        client.close()
