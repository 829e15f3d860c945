"""Pushes of the same image at once, as CI's matrix makes them (runs side by side push the test
images into one registry), all land: unserialised, docker-registry 2.8 answers some racing HEADs
with 500 and manifest PUTs with DIGEST_INVALID (7 of 24 pushes, six at a time)."""

from __future__ import annotations

import threading
from pathlib import Path

from harness.images.catalog import prepare
from harness.images.local_registry import LocalRegistry
from harness.images.registry import DEFAULT_ADDRESS, RegistryError, push
from harness.network import free_loopback_port

PUSHERS = 6
ROUNDS = 3


def test_pushes_of_one_image_at_once_all_land(tmp_path: Path) -> None:
    image = prepare(DEFAULT_ADDRESS, publish=False).busybox.built
    failures: list[str] = []

    def pushing(address: str) -> None:
        try:
            push(image, address)
        except RegistryError as error:
            failures.append(str(error))

    for round_number in range(ROUNDS):
        address = f"127.0.0.1:{free_loopback_port()}"
        folder = tmp_path / f"registry-{round_number}"
        folder.mkdir()
        registry = LocalRegistry(address, folder)
        registry.start()
        try:
            pushers = [threading.Thread(target=pushing, args=(address,)) for _ in range(PUSHERS)]
            for pusher in pushers:
                pusher.start()
            for pusher in pushers:
                pusher.join()
        finally:
            registry.stop()
    assert not failures, failures[0]
