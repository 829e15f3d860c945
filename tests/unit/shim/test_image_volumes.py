"""Image volumes and the newer mount fields in the shim: validation, image lookup, and the
Docker backend's filled volumes (against a recording double of Docker's API)."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import BUSYBOX, image

from reference_shim.backends.base import ImageInfo, ImageMountSpec
from reference_shim.backends.docker.image_volumes import VM_LABEL, DockerImageVolumes
from reference_shim.backends.labels import INSTANCE_LABEL
from reference_shim.cri import validation
from reference_shim.cri.convert import vm_specs
from reference_shim.errors import InvalidArgument, NotFound

WEB = "127.0.0.1:5000/cri-conformance/webserver:1.0"


def with_mount(**fields: Any) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="c"),
        image=cri.ImageSpec(image=BUSYBOX),
        mounts=[cri.Mount(container_path="/v", **fields)],
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host_path": "/tmp", "image": cri.ImageSpec(image=WEB)}, "mutually exclusive"),
        ({"host_path": "/tmp", "image_sub_path": "www"}, "needs an image"),
        ({"image": cri.ImageSpec(image="../containers")}, "is not an image reference"),
        ({"image": cri.ImageSpec(image=WEB), "image_sub_path": "/www"}, "relative path"),
        ({"image": cri.ImageSpec(image=WEB), "image_sub_path": "www/../.."}, "relative path"),
        (
            {"image": cri.ImageSpec(image=WEB, runtime_handler="kata")},
            "runtime_handler 'kata' is not configured",
        ),
        ({"host_path": "/tmp", "recursive_read_only": True}, "needs readonly"),
        (
            {
                "host_path": "/tmp",
                "readonly": True,
                "recursive_read_only": True,
                "propagation": cri.PROPAGATION_BIDIRECTIONAL,
            },
            "needs PRIVATE propagation",
        ),
    ],
)
def test_mount_fields_that_contradict_api_proto_are_invalid(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        validation.container_config(with_mount(**fields), has_config=True)


def test_image_mounts_resolve_to_the_ids_the_backend_holds() -> None:
    held = {WEB: image(WEB, 7)}
    config = with_mount(image=cri.ImageSpec(image=WEB), image_sub_path="www")
    assert vm_specs.image_mounts(config, held.get) == (
        ImageMountSpec(image=f"sha256:{7:064x}", container_path="/v", sub_path="www"),
    )
    nothing: dict[str, ImageInfo] = {}
    with pytest.raises(NotFound, match="pull it first"):
        vm_specs.image_mounts(config, nothing.get)


class RecordingDocker:
    """Docker's low-level API, as far as image volumes use it; archives are opaque chunks."""

    def __init__(self, folders: set[str]) -> None:
        self.folders = folders  # what get_archive finds in the image
        self.made: dict[str, dict[str, str]] = {}
        self.containers: dict[str, list[Any]] = {}
        self.copied: list[tuple[str, str, str]] = []
        self.vms: set[str] = set()

    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        self.made[name] = labels

    def remove_volume(self, name: str, force: bool = False) -> None:
        self.made.pop(name)

    def volumes(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        wanted = [label.split("=", 1) for label in filters["label"]]
        found = [n for n, labels in self.made.items() if all(labels.get(k) == v for k, v in wanted)]
        return {"Volumes": [{"Name": name, "Labels": self.made[name]} for name in found]}

    def inspect_container(self, name: str) -> dict[str, str]:
        if name not in self.vms:
            raise docker.errors.NotFound(f"No such container: {name}")
        return {"Name": f"/{name}"}

    def create_host_config(self, mounts: list[Any], network_mode: str) -> dict[str, Any]:
        return {"Mounts": mounts}

    def create_container(self, image: str, host_config: dict[str, Any], **_: Any) -> dict[str, str]:
        helper = f"helper{len(self.containers)}-{image}"
        self.containers[helper] = host_config["Mounts"]
        return {"Id": helper}

    def remove_container(self, helper: str, force: bool) -> None:
        self.containers.pop(helper)

    def get_archive(self, helper: str, path: str) -> tuple[list[bytes], dict[str, str]]:
        if path.removesuffix("/.") not in self.folders:
            raise docker.errors.NotFound(f"Could not find the file {path}")
        return [path.encode()], {}

    def put_archive(self, helper: str, path: str, chunks: list[bytes]) -> None:
        [sink] = self.containers[helper]
        self.copied.append((b"".join(chunks).decode(), sink["Source"], path))


def volumes(api: RecordingDocker) -> DockerImageVolumes:
    return DockerImageVolumes(api, {"owner": "me", INSTANCE_LABEL: "me"}, "me")


def test_each_image_mount_is_a_filled_volume_mounted_read_only_without_copy() -> None:
    api = RecordingDocker({"", "/www"})
    mounts = volumes(api).create(
        "ctr-c-1", (ImageMountSpec("sha256:1", "/a"), ImageMountSpec("sha256:1", "/b", "www/"))
    )
    assert [(m["Target"], m["Source"], m["ReadOnly"]) for m in mounts] == [
        ("/a", "ctr-c-1-image-0", True),
        ("/b", "ctr-c-1-image-1", True),
    ]
    assert all(m["VolumeOptions"]["NoCopy"] for m in mounts)
    assert [(source, volume) for source, volume, _ in api.copied] == [
        ("/.", "ctr-c-1-image-0"),
        ("/www/.", "ctr-c-1-image-1"),
    ]
    assert api.made["ctr-c-1-image-0"] == {"owner": "me", INSTANCE_LABEL: "me", VM_LABEL: "ctr-c-1"}
    assert not api.containers, "the helpers are removed once the copy is done"


def test_a_sub_path_the_image_lacks_is_invalid_and_leaves_nothing_behind() -> None:
    api = RecordingDocker({""})
    wanted = (ImageMountSpec("sha256:1", "/a"), ImageMountSpec("sha256:1", "/b", "nope"))
    with pytest.raises(InvalidArgument, match="image_sub_path 'nope' does not exist"):
        volumes(api).create("ctr-c-1", wanted)
    assert not api.made
    assert not api.containers


def test_the_volumes_of_a_vm_go_with_it() -> None:
    api = RecordingDocker({""})
    volumes(api).create("ctr-c-1", (ImageMountSpec("sha256:1", "/a"),))
    volumes(api).create("ctr-d-2", (ImageMountSpec("sha256:1", "/a"),))
    volumes(api).remove_of("ctr-c-1")
    assert list(api.made) == ["ctr-d-2-image-0"]


def test_at_setup_the_volumes_of_a_vm_that_was_never_made_are_removed() -> None:
    api = RecordingDocker({""})
    volumes(api).create("ctr-c-1", (ImageMountSpec("sha256:1", "/a"),))
    volumes(api).create("ctr-d-2", (ImageMountSpec("sha256:1", "/a"),))
    api.vms.add("ctr-d-2")
    volumes(api).remove_orphans()
    assert list(api.made) == ["ctr-d-2-image-0"]
