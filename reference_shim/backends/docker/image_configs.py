"""What only an image's inspect tells, kept by image id, so ListImages needs one engine call.

Docker's image list (``GET /images/json``) gives each image's id, tags, digests and size, but
not its config: the user CRI reports as ``uid``/``username``, nor the entrypoint and command
the shim needs to start a container. Inspecting every image on every ListImages made its cost
grow with the image count, and the kubelet calls it every few seconds.

An image id is the digest of the image's config, so the config an id names never changes: an
entry here cannot go stale, whatever happens to the image behind the shim's back. Tags,
digests and size do change (a tag moved, an image removed), so they are never kept here; they
come from the engine's answer of the moment. Entries go when the shim removes their image and
when a full list no longer shows their id, so the cache stays as big as the image store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunConfig:
    """The parts of an image's config the shim uses."""

    user: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]


def run_config(inspected: Mapping[str, Any]) -> RunConfig:
    """The run config of an image inspect's answer."""
    config = inspected.get("Config") or {}
    return RunConfig(
        user=str(config.get("User") or ""),
        entrypoint=tuple(config.get("Entrypoint") or ()),
        cmd=tuple(config.get("Cmd") or ()),
    )


class RunConfigCache:
    """Run configs by image id; safe to share between the gRPC server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, RunConfig] = {}

    def get(self, image_id: str) -> RunConfig | None:
        with self._lock:
            return self._by_id.get(image_id)

    def put(self, image_id: str, config: RunConfig) -> None:
        with self._lock:
            self._by_id[image_id] = config

    def forget(self, image_id: str) -> None:
        with self._lock:
            self._by_id.pop(image_id, None)

    def keep_only(self, image_ids: Iterable[str]) -> None:
        """Drop every id not in ``image_ids``: those the engine's full list no longer shows."""
        listed = set(image_ids)
        with self._lock:
            self._by_id = {key: value for key, value in self._by_id.items() if key in listed}

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)
