"""Images of the bench's own, so it may time RemoveImage and list a growing number of images.

Images carry no CRI labels, and a runtime's RemoveImage drops every tag of an image: removing
an image the node already had (even under a new tag of the same content) could take away what
the node needs. So the bench pushes images that only it has: the test busybox's manifest for
this machine's architecture, its config given the run label (a new config, so a new image id),
tagged ``<run id>-<n>`` in the repository ``cri-conformance/bench``. Before a RemoveImage, the
image's own status must name only such tags (``owns``).
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from typing import Any

from cri_api.v1 import api_pb2 as cri

from harness.client import CriClient
from harness.images import oci
from harness.images.builder import MACHINES, reference
from harness.images.catalog import TestImage
from harness.images.distribution import Repository
from harness.images.registry import REPOSITORY_PREFIX
from harness.ownership import RUN_LABEL, RunOwnership

REPOSITORY = f"{REPOSITORY_PREFIX}/bench"
NUMBER = "cri-conformance.io/bench-image"  # makes each config, so each image id, unique


def _host_manifest(layout: oci.Layout, top: oci.Descriptor) -> oci.Descriptor:
    """The manifest of this machine's architecture (``top`` itself when it is one)."""
    if top.media_type != oci.INDEX:
        return top
    machine = platform.machine()
    index = layout.read_json(top.digest)
    for entry in index["manifests"]:
        if machine in MACHINES.get(entry["platform"]["architecture"], ()):
            return oci.Descriptor(entry["mediaType"], entry["digest"], entry["size"])
    raise LookupError(f"the test images have no manifest for this machine ({machine})")


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put_json(repository: Repository, value: Any) -> tuple[bytes, str]:
    data = oci.canonical_json(value)
    digest = _digest(data)
    if not repository.has_blob(digest):
        repository.put_blob(digest, data)
    return data, digest


class NotOwned(AssertionError):
    """The runtime reported a bench image with a tag the bench did not push: left alone."""


@dataclass
class OwnImages:
    """The run's images: pushes new ones, and checks and removes those a runtime holds."""

    base: TestImage
    run: RunOwnership
    pushed: int = 0

    def push(self, count: int) -> list[str]:
        """Push ``count`` more distinct images of the run; their references."""
        layout = oci.Layout(self.base.built.layout)
        top = layout.tags()[reference(self.base.built.recipe, self.base.tags[0])]
        manifest = layout.read_json(_host_manifest(layout, top).digest)
        config = layout.read_json(manifest["config"]["digest"])
        repository = Repository(self.base.registry, REPOSITORY)
        for layer in manifest["layers"]:
            if not repository.has_blob(layer["digest"]):
                data = layout.blob_path(layer["digest"]).read_bytes()
                repository.put_blob(layer["digest"], data)
        references = []
        for number in range(self.pushed, self.pushed + count):
            tag = f"{self.run.run_id}-{number}"
            settings = config.get("config", {})
            labels = {**settings.get("Labels", {}), RUN_LABEL: self.run.run_id, NUMBER: str(number)}
            config_data, digest = _put_json(
                repository, {**config, "config": {**settings, "Labels": labels}}
            )
            own = {
                **manifest,
                "config": {**manifest["config"], "digest": digest, "size": len(config_data)},
            }
            data = oci.canonical_json(own)
            descriptor = oci.Descriptor(oci.MANIFEST, _digest(data), len(data))
            repository.put_manifest(tag, descriptor, data)
            references.append(f"{self.base.registry}/{REPOSITORY}:{tag}")
        self.pushed += count
        return references

    def owns(self, image: cri.Image) -> bool:
        """True when every tag of ``image`` is one the run pushed (and it has at least one)."""
        prefix = f"{self.base.registry}/{REPOSITORY}:{self.run.run_id}-"
        return bool(image.repo_tags) and all(tag.startswith(prefix) for tag in image.repo_tags)

    def check(self, image: cri.Image) -> None:
        """Stop before a RemoveImage of an image that is not wholly the run's."""
        if not self.owns(image):
            raise NotOwned(
                f"SAFETY: image {image.id} has tags {list(image.repo_tags)} the bench did not "
                "push; it was not removed"
            )

    def remove_all(self, client: CriClient) -> int:
        """Remove every image of the run the runtime holds; how many there were."""
        mine = [image for image in client.list_images() if self.owns(image)]
        for image in mine:
            client.remove_image(image.id)
        return len(mine)
