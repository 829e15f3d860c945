"""Image volumes (CRI Mount.image) on Docker Engine 20.10, which has no image mounts of its own.

Docker added image mounts in API 1.48; 20.10 speaks 1.41. So the backend fills a volume of its
own with the image's files: Docker archives the folder (the image root, or ``image_sub_path``)
from a container made of the image (created, never started) and extracts the archive into the
volume through a second such container that has the volume mounted, keeping owners, modes and
links as the image has them. The VM mounts the volume read-only, and without Docker's copy of
the VM image's own files into it (``no_copy``).

Each volume carries the instance's labels and the name of its VM, and is removed with the VM.
The helper containers carry the shim's label but not the instance's, so no listing of VMs ever
sees them; they are removed as soon as the copy is done. Docker's own files of a created
container come along when a whole image is mounted: an empty ``/.dockerenv`` and, where the
image lacks them, the empty mount points ``/proc``, ``/sys``, ``/dev``, ``/etc/hosts``,
``/etc/hostname`` and ``/etc/resolv.conf``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import docker.errors
from docker.types import Mount

from reference_shim.backends.base import ImageMountSpec
from reference_shim.backends.docker.errors import docker_errors
from reference_shim.backends.labels import SHIM_LABEL, owner_filter
from reference_shim.errors import InvalidArgument

VM_LABEL = "io.cri-conformance.shim.image-volume-of"
HELPER_LABEL = "io.cri-conformance.shim.image-volume-helper"
_SINK = "/.cri-image-volume"
_NEVER_RUN = ["/.cri-image-volume-helper"]  # helpers are created, never started


class DockerImageVolumes:
    def __init__(self, api: Any, labels: dict[str, str], instance: str) -> None:
        self._api = api
        self._labels = labels
        self._instance = instance

    def create(self, vm_name: str, mounts: tuple[ImageMountSpec, ...]) -> list[Mount]:
        """A filled volume for each image mount, as the read-only mounts of the VM."""
        made: list[str] = []
        try:
            for index, mount in enumerate(mounts):
                name = f"{vm_name}-image-{index}"
                with docker_errors(f"create image volume {name}"):
                    self._api.create_volume(name, labels={**self._labels, VM_LABEL: vm_name})
                made.append(name)
                self._fill(name, mount)
        except BaseException:
            self._remove(made)
            raise
        return [
            Mount(target=m.container_path, source=name, type="volume", read_only=True, no_copy=True)
            for m, name in zip(mounts, made, strict=True)
        ]

    def remove_of(self, vm_name: str) -> None:
        """Remove the image volumes of the VM named ``vm_name`` (after the VM is gone)."""
        labels = [owner_filter(self._instance), f"{VM_LABEL}={vm_name}"]
        with docker_errors(f"list image volumes of {vm_name}"):
            found = self._api.volumes(filters={"label": labels}).get("Volumes") or []
        self._remove([str(volume["Name"]) for volume in found])

    def remove_orphans(self) -> None:
        """Remove the image volumes whose VM does not exist: the shim stopped after filling
        them and before Docker made the VM. A volume that a VM uses is left alone."""
        with docker_errors("list image volumes"):
            found = self._api.volumes(filters={"label": [owner_filter(self._instance)]})
        for volume in found.get("Volumes") or []:
            vm_name = (volume.get("Labels") or {}).get(VM_LABEL)
            if not vm_name:
                continue
            try:
                self._api.inspect_container(vm_name)
            except docker.errors.NotFound:
                with contextlib.suppress(docker.errors.APIError):  # in use by a late VM
                    self._api.remove_volume(str(volume["Name"]))

    def _remove(self, names: list[str]) -> None:
        for name in names:
            with (
                docker_errors(f"remove image volume {name}"),
                contextlib.suppress(docker.errors.NotFound),
            ):
                self._api.remove_volume(name, force=True)

    def _fill(self, volume: str, mount: ImageMountSpec) -> None:
        folder = "/" + mount.sub_path.strip("/") if mount.sub_path else ""
        with (
            self._helper(mount.image, []) as source,
            self._helper(mount.image, [Mount(target=_SINK, source=volume, type="volume")]) as sink,
        ):
            try:
                chunks, _ = self._api.get_archive(source, f"{folder}/.")
            except docker.errors.NotFound as error:
                raise InvalidArgument(
                    f"image_sub_path {mount.sub_path!r} does not exist in image {mount.image}"
                ) from error
            with docker_errors(f"copy {mount.image}:{folder or '/'} into volume {volume}"):
                self._api.put_archive(sink, _SINK, chunks)

    @contextlib.contextmanager
    def _helper(self, image: str, mounts: list[Mount]) -> Iterator[str]:
        with docker_errors(f"create a container of image {image} to copy its files"):
            created = self._api.create_container(
                image,
                entrypoint=_NEVER_RUN,
                labels={SHIM_LABEL: "reference", HELPER_LABEL: self._instance},
                network_disabled=True,
                host_config=self._api.create_host_config(mounts=mounts, network_mode="none"),
            )
        helper = str(created["Id"])
        try:
            yield helper
        finally:
            with (
                docker_errors(f"remove helper {helper[:12]}"),
                contextlib.suppress(docker.errors.NotFound),
            ):
                self._api.remove_container(helper, force=True)
