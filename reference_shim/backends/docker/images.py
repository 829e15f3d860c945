"""Images through Docker Engine's image store."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.utils import parse_repository_tag

from reference_shim.backends.base import FsUsage, ImageChanges, ImageInfo
from reference_shim.backends.docker.errors import docker_errors
from reference_shim.backends.docker.image_configs import RunConfig, RunConfigCache, run_config
from reference_shim.backends.docker.image_events import DockerImageEvents
from reference_shim.backends.filesystems import count_inodes
from reference_shim.errors import BackendError


def image_info(document: Mapping[str, Any], config: RunConfig) -> ImageInfo:
    """``document`` is an image's inspect or its entry in the image list: both have these keys."""
    return ImageInfo(
        id=str(document["Id"]),
        repo_tags=tuple(tag for tag in document.get("RepoTags") or () if tag != "<none>:<none>"),
        repo_digests=tuple(
            digest for digest in document.get("RepoDigests") or () if digest != "<none>@<none>"
        ),
        size=int(document.get("Size") or 0),
        user=config.user,
        entrypoint=config.entrypoint,
        cmd=config.cmd,
    )


class DockerImages:
    """Docker's image store in CRI's terms.

    Engine calls per RPC: ListImages one (the image list; the configs come from
    ``RunConfigCache``, an inspect only for an image the shim has not seen yet), ImageStatus
    one inspect, PullImage the pull and one inspect, RemoveImage the caller's inspect and the
    removal (a wait for the image to go only when a concurrent removal got there first).
    The shim makes most of them only while Docker's image events are not followed
    (``watch_images``, from ``events.start``): its image records answer otherwise.
    """

    def __init__(self, api: docker.APIClient) -> None:
        self._api: Any = api  # the SDK is untyped
        self._root = ""
        self.configs = RunConfigCache()
        self.events = DockerImageEvents(api)

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
                return image_info(*self._inspect(reference))
            except docker.errors.NotFound:
                return None

    def _inspect(self, reference: str) -> tuple[dict[str, Any], RunConfig]:
        """The inspect of the image ``reference`` names, and its run config, kept for lists."""
        document: dict[str, Any] = self._api.inspect_image(reference)
        config = run_config(document)
        self.configs.put(str(document["Id"]), config)
        return document, config

    def list_images(self) -> list[ImageInfo]:
        """One engine call, whatever the image count, once the shim has seen each image."""
        with docker_errors("list images"):
            summaries = self._api.images()
            self.configs.keep_only(str(summary["Id"]) for summary in summaries)
            infos = []
            for summary in summaries:
                config = self._config(str(summary["Id"]))
                if config is not None:  # else removed since the list
                    infos.append(image_info(summary, config))
            return infos

    def _config(self, image_id: str) -> RunConfig | None:
        """The run config of ``image_id``: kept, or inspected now; None once it is gone."""
        config = self.configs.get(image_id)
        if config is not None:
            return config
        try:
            return self._inspect(image_id)[1]
        except docker.errors.NotFound:
            return None

    def remove(self, image_id: str) -> None:
        """Remove the image with every tag and digest it has (CRI removes the image, not a tag).

        Docker's answer to a removal by id comes once the image is gone, or refuses it (a
        running container uses it). A concurrent removal that got there first is success once
        the image is gone: Docker answers 404, or 500 "unrecognized image ID" while the other
        removal is still under way; only then does this wait.
        """
        self.configs.forget(image_id)
        with docker_errors(f"remove image {image_id}"):
            try:
                self._api.remove_image(image_id, force=True)
                return
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

    def watch_images(self, changes: ImageChanges, stop: threading.Event) -> None:
        """From Docker's image events, which the backend follows from ``setup`` on."""
        self.events.watch(changes, stop)

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
