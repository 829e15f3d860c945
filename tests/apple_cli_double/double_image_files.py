"""What Apple's image service keeps on the host's disk for the images it holds.

The real service (``container-core-images``) keeps, under the app root, a content store
(``content/blobs/sha256/<hex>``, with ``content/ingest`` for pulls in flight) and one unpacked
ext4 snapshot per image manifest (``snapshots/<manifest hex>/snapshot`` and ``snapshot-info``,
with ``snapshots/ingest``). ``image pull`` fetches the index, the host platform's manifest and
its layers, then unpacks that manifest; ``image delete`` drops the name, then removes the blobs
and snapshots that no remaining image uses. The double writes the same files (small stand-ins),
so that what the backend counts on disk moves as it does on a Mac. The ImageResource JSON has
no layer digests, so the layer blobs are named by the config's diff_ids.
"""

from __future__ import annotations

import platform
import shutil
from typing import Any

from double_store import Store

_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_FOLDERS = ("content/ingest", "content/blobs/sha256", "snapshots/ingest")


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def _host_variant(image: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest the CLI pulls by default: the host's architecture, as on a Mac."""
    machine = platform.machine().lower()
    architecture = _ARCHITECTURES.get(machine, machine)
    for variant in image.get("variants") or ():
        wanted = {"os": "linux", "architecture": architecture}
        if {key: variant["platform"].get(key) for key in wanted} == wanted:
            return dict(variant)
    return None


def _blobs(image: dict[str, Any]) -> set[str]:
    blobs = {_hex(image["configuration"]["descriptor"]["digest"])}
    variant = _host_variant(image)
    if variant is not None:
        blobs.add(_hex(variant["digest"]))
        blobs.update(_hex(layer) for layer in variant["config"]["rootfs"]["diff_ids"])
    return blobs


def _snapshots(image: dict[str, Any]) -> set[str]:
    variant = _host_variant(image)
    return {_hex(variant["digest"])} if variant is not None else set()


def prepare(store: Store) -> None:
    """The folders the image service makes when it starts."""
    for folder in _FOLDERS:
        (store.root / folder).mkdir(parents=True, exist_ok=True)


def fetch_and_unpack(store: Store, image: dict[str, Any]) -> None:
    blobs = store.root / "content" / "blobs" / "sha256"
    for name in _blobs(image):
        (blobs / name).write_text(name)
    for name in _snapshots(image):
        snapshot = store.root / "snapshots" / name
        snapshot.mkdir(exist_ok=True)
        (snapshot / "snapshot").write_bytes(b"ext4")
        (snapshot / "snapshot-info").write_text("{}")


def remove_orphans(store: Store, remaining: list[dict[str, Any]]) -> None:
    """Blobs and snapshots no remaining image uses, as ``cleanUpOrphanedBlobs`` does."""
    used_blobs = set().union(*(_blobs(image) for image in remaining))
    used_snapshots = set().union(*(_snapshots(image) for image in remaining))
    for blob in (store.root / "content" / "blobs" / "sha256").iterdir():
        if blob.name not in used_blobs:
            blob.unlink()
    for snapshot in (store.root / "snapshots").iterdir():
        if snapshot.name != "ingest" and snapshot.name not in used_snapshots:
            shutil.rmtree(snapshot)
