"""Integration tests drive the real services started by scripts/services."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import chromium_command

from harness.client import CriClient
from harness.endpoints import Endpoints, normalize
from harness.images.local_registry import LocalRegistry
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
    At the end, containerd forgets this registry's names (forget_names)."""
    address = f"127.0.0.1:{free_loopback_port()}"
    registry = LocalRegistry(address, tmp_path_factory.mktemp("registry"))
    registry.start()
    yield address
    registry.stop()
    forget_names(containerd, f"{address}/")


def forget_names(containerd: CriClient, prefix: str) -> None:
    """Remove containerd's image names that start with ``prefix``, and only those.

    The test images are the same bytes in every registry, so an image pulled from a private
    registry is also the shared :5000 one under another name; left there, containerd may report
    that name in a later run's ContainerStatus.image_ref. CRI's RemoveImage cannot drop one name
    (containerd removes the whole image, every name), so each name goes through containerd's own
    image store with ``ctr``, and the CRI plugin follows its delete events.
    """
    names = [
        name
        for image in containerd.list_images()
        for name in (*image.repo_tags, *image.repo_digests)
        if name.startswith(prefix)
    ]
    if not names:
        return
    socket = containerd.endpoints.runtime.removeprefix("unix://")
    subprocess.run(
        ["ctr", "--address", socket, "--namespace", "k8s.io", "images", "rm", *names],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def chromium(tmp_path: Path) -> list[str]:
    """The command line of a headless Chromium with a fresh profile (browser.py)."""
    return chromium_command(tmp_path / "chromium-profile")
