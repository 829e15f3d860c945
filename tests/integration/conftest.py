"""Integration tests drive the real services started by scripts/services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import chromium_command

from harness.client import CriClient
from harness.endpoints import Endpoints, normalize
from harness.images.registry import LocalRegistry
from harness.network import free_loopback_port

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


@pytest.fixture(scope="module")
def private_registry(
    tmp_path_factory: pytest.TempPathFactory, containerd: CriClient
) -> Iterator[str]:
    """An empty registry of the test's own on a free loopback port (never the shared :5000,
    whose images other runs on this machine use). containerd pulls from loopback over HTTP.
    At the end, the images containerd holds only under this registry's names are removed."""
    address = f"127.0.0.1:{free_loopback_port()}"
    registry = LocalRegistry(address, tmp_path_factory.mktemp("registry"))
    registry.start()
    yield address
    registry.stop()
    for image in containerd.list_images():
        names = [*image.repo_tags, *image.repo_digests]
        if names and all(name.startswith(f"{address}/") for name in names):
            containerd.remove_image(image.id)


@pytest.fixture
def chromium(tmp_path: Path) -> list[str]:
    """The command line of a headless Chromium with a fresh profile (browser.py)."""
    return chromium_command(tmp_path / "chromium-profile")
