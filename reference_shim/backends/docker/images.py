"""Images through Docker Engine's image store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.utils import parse_repository_tag

from reference_shim.backends.base import FsUsage, ImageInfo
from reference_shim.backends.docker.errors import docker_errors
from reference_shim.backends.filesystems import count_inodes
from reference_shim.errors import BackendError


def image_info(document: dict[str, Any]) -> ImageInfo:
    config = document.get("Config") or {}
    return ImageInfo(
        id=str(document["Id"]),
        repo_tags=tuple(tag for tag in document.get("RepoTags") or () if tag != "<none>:<none>"),
        repo_digests=tuple(
            digest for digest in document.get("RepoDigests") or () if digest != "<none>@<none>"
        ),
        size=int(document.get("Size") or 0),
        user=str(config.get("User") or ""),
        entrypoint=tuple(config.get("Entrypoint") or ()),
        cmd=tuple(config.get("Cmd") or ()),
    )


class DockerImages:
    def __init__(self, api: docker.APIClient) -> None:
        self._api: Any = api  # the SDK is untyped
        self._root = ""

    def mountpoint(self) -> str:
        if not self._root:
            with docker_errors("Docker info"):
                self._root = str(self._api.info().get("DockerRootDir", ""))
        return self._root

    def pull(self, reference: str, username: str, password: str) -> ImageInfo:
        repository, tag = parse_repository_tag(reference)
        if tag is None:
            tag = "latest"
        auth = {"username": username, "password": password} if username or password else None
        with docker_errors(f"pull {reference}"):
            self._api.pull(repository, tag=tag, auth_config=auth)
        info = self.get(reference)
        if info is None:
            raise BackendError(f"image {reference} is missing right after its pull")
        return info

    def get(self, reference: str) -> ImageInfo | None:
        with docker_errors(f"inspect image {reference}"):
            try:
                return image_info(self._api.inspect_image(reference))
            except docker.errors.NotFound:
                return None

    def list_images(self) -> list[ImageInfo]:
        with docker_errors("list images"):
            summaries = self._api.images()
            infos = []
            for summary in summaries:
                try:
                    infos.append(image_info(self._api.inspect_image(summary["Id"])))
                except docker.errors.NotFound:
                    continue  # removed between the two calls
            return infos

    def remove(self, image_id: str) -> None:
        """Remove the image with every tag and digest it has (CRI removes the image, not a tag).

        A concurrent removal that got there first is success once the image is gone: Docker
        answers 404, or 500 "unrecognized image ID" while the other removal is still under way.
        """
        with docker_errors(f"remove image {image_id}"):
            try:
                self._api.remove_image(image_id, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as error:
                if "unrecognized image id" not in str(error.explanation or "").lower():
                    raise
            self._wait_until_gone(image_id)

    def _wait_until_gone(self, image_id: str, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._api.inspect_image(image_id)
            except docker.errors.NotFound:
                return
            time.sleep(0.05)
        raise BackendError(f"image {image_id} is still there {seconds:g}s after its removal")

    def fs_usage(self) -> FsUsage:
        with docker_errors("image filesystem usage"):
            usage = self._api.df()
        return FsUsage(
            mountpoint=self.mountpoint(),
            used_bytes=int(usage.get("LayersSize") or 0),
            inodes_used=self._layer_inodes(),
        )

    def _layer_inodes(self) -> int:
        """Inodes under the storage driver's folder; 0 when Docker's root is not on this host.

        Docker reports no inode figure of its own, so this counts the layers' files.
        """
        with docker_errors("Docker info"):
            driver = str(self._api.info().get("Driver", ""))
        return count_inodes(Path(self.mountpoint()) / driver) if driver else 0
