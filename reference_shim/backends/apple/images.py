"""Images through Apple's image store (``container image ...``), with CRI's view of an image.

Apple lists one entry per name; CRI lists images, so entries sharing an id are merged. An
image's id is its index (or manifest) digest: the CLI's JSON does not carry the config digest
that containerd and Docker use as the id.
"""

from __future__ import annotations

import threading
from pathlib import Path

from reference_shim.backends.apple.cli import PULL_TIMEOUT_S, AppleCli
from reference_shim.backends.apple.documents import (
    host_architecture,
    image_parts,
    parse_images,
)
from reference_shim.backends.base import FsUsage, ImageChanges, ImageInfo
from reference_shim.backends.filesystems import count_inodes
from reference_shim.errors import BackendError, NotFound, Unimplemented

_HEX = frozenset("0123456789abcdef")
# Where Apple's image service keeps images under its app root: the content store (blobs) and
# one unpacked ext4 snapshot per manifest (apple/container's ContentStoreService, SnapshotStore).
_IMAGE_FOLDERS = ("content", "snapshots")


def _is_id(reference: str) -> bool:
    bare = reference.removeprefix("sha256:")
    return len(bare) == 64 and set(bare) <= _HEX


class AppleImages:
    def __init__(self, cli: AppleCli) -> None:
        self._cli = cli
        self.app_root = ""  # Apple's data root, learnt when the backend is set up

    def mountpoint(self) -> str:
        return self.app_root

    def _documents(self) -> list[dict[str, object]]:
        return list(self._cli.json("list images", "image", "list", "--format", "json"))

    def pull(self, reference: str, username: str, password: str) -> ImageInfo:
        if username or password:
            raise Unimplemented(
                "pulling with credentials is not supported: Apple's container CLI takes "
                "registry credentials only from `container registry login`"
            )
        self._cli.run(
            f"pull {reference}", "image", "pull", "--progress", "none", reference,
            timeout=PULL_TIMEOUT_S,
        )  # fmt: skip
        info = self.get(reference)
        if info is None:
            raise BackendError(f"image {reference} is missing right after its pull")
        return info

    def get(self, reference: str) -> ImageInfo | None:
        """By id, by ``repo@digest``, or by name (the CLI normalizes short names itself)."""
        if _is_id(reference) or "@" in reference:
            return self._find(reference)
        documents = self._cli.json_unless_missing(
            f"inspect image {reference}", "image", "inspect", reference
        )
        if not documents:
            return None
        _, image_id, _ = image_parts(documents[0], host_architecture())
        return self._find(image_id)

    def _find(self, reference: str) -> ImageInfo | None:
        wanted_id = "sha256:" + reference.removeprefix("sha256:") if _is_id(reference) else ""
        wanted_repo, _, wanted_digest = reference.partition("@")
        for info in parse_images(self._documents()):
            if info.id == wanted_id:
                return info
            for repo_digest in info.repo_digests:
                repo, _, digest = repo_digest.partition("@")
                if digest == wanted_digest and (
                    repo == wanted_repo or repo.endswith("/" + wanted_repo)
                ):
                    return info
        return None

    def names_of(self, image_id: str) -> list[str]:
        """Every name Apple keeps for the image ``image_id``."""
        names = []
        for document in self._documents():
            name, found_id, _ = image_parts(document, host_architecture())
            if found_id == image_id and name:
                names.append(name)
        return names

    def reference_for(self, image_id: str) -> str:
        """A name ``container create`` takes for the image ``image_id``."""
        names = self.names_of(image_id)
        if not names:
            raise NotFound(f"image {image_id} is not in Apple's image store any more")
        return names[0]

    def list_images(self) -> list[ImageInfo]:
        return parse_images(self._documents())

    def remove(self, image_id: str) -> None:
        """Remove the image under every name it has (CRI removes the image, not a tag)."""
        names = self.names_of(image_id)
        if names:
            # --force: a name a concurrent removal took already is not an error
            self._cli.run(f"remove image {image_id}", "image", "delete", "--force", *names)

    def watch_images(self, changes: ImageChanges, stop: threading.Event) -> None:
        """Apple's CLI tells no one of image changes: the shim asks it on every image call."""
        stop.wait()

    def fs_usage(self) -> FsUsage:
        """The images' sizes as Apple reports them (compressed layers), and the inodes of the
        image service's folders: Apple reports no inode figure, so they are counted."""
        used = sum(info.size for info in self.list_images())
        return FsUsage(mountpoint=self.mountpoint(), used_bytes=used, inodes_used=self._inodes())

    def _inodes(self) -> int:
        if not self.app_root:
            return 0
        return sum(count_inodes(Path(self.app_root) / folder) for folder in _IMAGE_FOLDERS)
