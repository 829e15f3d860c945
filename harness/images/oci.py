"""An OCI image layout on disk: content-addressed blobs plus ``index.json`` naming the tags.

The builder writes one layout holding every test image (blobs the images share are stored
once); the registry client reads it to push. JSON is written with sorted keys and no spaces,
so the same content gives the same digests wherever it is built.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"  # uncompressed: see builder.py
REF_NAME = "org.opencontainers.image.ref.name"


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def as_json(self, **extra: object) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


class Layout:
    """A layout folder: ``oci-layout``, ``index.json`` and ``blobs/sha256/``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.root / "blobs" / algorithm / hexdigest

    def add_blob(self, media_type: str, data: bytes) -> Descriptor:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return Descriptor(media_type, digest, len(data))

    def add_json(self, media_type: str, value: object) -> Descriptor:
        return self.add_blob(media_type, canonical_json(value))

    def write_index(self, tags: dict[str, Descriptor]) -> None:
        """Name each ``reference -> descriptor`` in index.json, sorted by reference."""
        manifests = [tags[ref].as_json(annotations={REF_NAME: ref}) for ref in sorted(tags)]
        (self.root / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
        index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}
        (self.root / "index.json").write_bytes(canonical_json(index))

    # -- reading ------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.root / "index.json").is_file()

    def tags(self) -> dict[str, Descriptor]:
        index = json.loads((self.root / "index.json").read_text())
        return {
            entry["annotations"][REF_NAME]: Descriptor(
                entry["mediaType"], entry["digest"], entry["size"]
            )
            for entry in index["manifests"]
        }

    def read_json(self, digest: str) -> Any:
        return json.loads(self.blob_path(digest).read_bytes())

    def children(self, descriptor: Descriptor) -> list[Descriptor]:
        """The blobs a manifest or index points at: manifests, or config and layers."""
        document = self.read_json(descriptor.digest)
        if descriptor.media_type == INDEX:
            entries = document["manifests"]
        else:
            entries = [document["config"], *document["layers"]]
        return [Descriptor(e["mediaType"], e["digest"], e["size"]) for e in entries]
