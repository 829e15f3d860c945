"""A shim served on a temporary socket over the in-memory backend (no Docker needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_backend import PAUSE, FakeBackend
from shim_helpers import StartShim

from harness.client import CriClient
from harness.endpoints import Endpoints
from reference_shim.config import ShimConfig
from reference_shim.server import Shim


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def start_shim(tmp_path: Path, backend: FakeBackend) -> Iterator[StartShim]:
    """Start a shim on the same state dir and backend each call (a restart after the first)."""
    running: list[tuple[Shim, CriClient]] = []

    def start() -> tuple[Shim, CriClient]:
        config = ShimConfig(
            socket=tmp_path / "cri.sock",
            state_dir=tmp_path / "state",
            backend="fake",
            strategy="reject",
            docker_host=None,
            pod_image=PAUSE,
            log_level="debug",
        )
        shim = Shim(config, backend=backend)
        shim.start()
        endpoint = f"unix://{config.socket}"
        client = CriClient(Endpoints(endpoint, endpoint, "test"), timeout=10)
        client.connect()
        running.append((shim, client))
        return shim, client

    yield start
    for shim, client in running:
        client.close()
        if not shim.stopped.is_set():
            shim.stop()


@pytest.fixture
def shim(start_shim: StartShim) -> Shim:
    return start_shim()[0]


@pytest.fixture
def client(start_shim: StartShim) -> CriClient:
    return start_shim()[1]
