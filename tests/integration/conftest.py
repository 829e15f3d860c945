"""Integration tests drive the real services started by scripts/services."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from harness.client import CriClient
from harness.endpoints import Endpoints, normalize

DEFAULT_CONTAINERD = "unix:///var/tmp/cri-conformance/containerd/containerd.sock"


@pytest.fixture(scope="session")
def containerd_endpoint() -> str:
    return normalize(os.environ.get("CONTAINERD_ENDPOINT", DEFAULT_CONTAINERD))


@pytest.fixture(scope="session")
def containerd(containerd_endpoint: str) -> Iterator[CriClient]:
    client = CriClient(Endpoints(containerd_endpoint, containerd_endpoint, "test"), timeout=10)
    client.connect()
    yield client
    client.close()
