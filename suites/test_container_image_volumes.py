"""Image volumes: an OCI image mounted into a container (api.proto Mount.image, image_sub_path).

As the kubelet does, the test pulls the image and passes the PullImage image_ref as
``Mount.image``. The webserver image holds ``/www/index.html`` next to busybox's ``/bin``. No
Status flag advertises image volumes: a runtime without them refuses with UNIMPLEMENTED, and one
whose CRI predates them (harness.advertised) with whatever error it makes of the mount.
"""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as api

from harness.advertised import refusal_excused_if_predating
from harness.client import CallFailed, CriClient
from harness.expect import answer_or_refusal
from harness.factories import Container, ContainerFactory, Pod, PodFactory
from harness.images.catalog import ImageCatalog
from harness.probes import exec_ok, read_only_problem

VOLUME = "/volume"
PAGE = "cri-conformance web server\n"
# An image id no runtime holds (the kubelet passes ids); a runtime must not mount nothing.
UNKNOWN_IMAGE = "sha256:" + "0c" * 32


def image_mount(image_ref: str, sub_path: str = "") -> api.Mount:
    # Mount.image: "All image mounts are per feature definition readonly"; the kubelet marks
    # them so (containerd refuses one that is not), and the test checks they are, inside.
    return api.Mount(
        container_path=VOLUME,
        image=api.ImageSpec(image=image_ref),
        image_sub_path=sub_path,
        readonly=True,
    )


def with_image_volume(
    cri: CriClient,
    pod: Pod,
    make_container: ContainerFactory,
    images: ImageCatalog,
    sub_path: str = "",
) -> Container:
    image_ref = cri.pull_image(images["webserver"].ref)
    with refusal_excused_if_predating(cri):
        return make_container(pod, mounts=[image_mount(image_ref, sub_path)])


@pytest.mark.feature("container.mount.image")
def test_an_image_volume_shows_the_image_files_read_only(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    container = with_image_volume(cri, shared_pod, make_container, images)
    assert exec_ok(cri, container, "cat", f"{VOLUME}/www/index.html") == PAGE
    exec_ok(cri, container, "test", "-x", f"{VOLUME}/bin/busybox")
    problem = read_only_problem(cri, container, VOLUME)
    assert problem is None, f"the image volume is not read-only: {problem}"


@pytest.mark.feature("container.mount.image-sub-path")
def test_an_image_sub_path_mounts_that_folder_of_the_image(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    # api.proto Mount.image_sub_path: "Specific image sub path to be used from inside the image
    # instead of its root".
    container = with_image_volume(cri, shared_pod, make_container, images, sub_path="www")
    listing = exec_ok(cri, container, "ls", "-A", VOLUME).split()
    assert listing == ["index.html"], (
        f"{VOLUME} holds {listing}; with image_sub_path 'www' it should hold the image's folder "
        "www only: ['index.html']"
    )
    assert exec_ok(cri, container, "cat", f"{VOLUME}/index.html") == PAGE
    problem = read_only_problem(cri, container, VOLUME)
    assert problem is None, f"the image volume is not read-only: {problem}"


@pytest.mark.parametrize(
    ("image", "sub_path", "what"),
    [
        pytest.param(
            UNKNOWN_IMAGE, "", "an image it does not hold", id="image-not-held",
            marks=pytest.mark.feature("container.mount.image-not-held"),
        ),
        pytest.param(
            "webserver", "no-such-folder", "a sub path the image lacks", id="sub-path-not-in-image",
            marks=pytest.mark.feature("container.mount.image-sub-path-missing"),
        ),
    ],
)  # fmt: skip
def test_an_image_volume_of_something_missing_is_refused(
    cri: CriClient,
    make_pod: PodFactory,
    shared_pod: Pod,
    make_container: ContainerFactory,
    images: ImageCatalog,
    image: str,
    sub_path: str,
    what: str,
) -> None:
    # A refusal counts only from a runtime that mounts image volumes at all: the same pod takes
    # a volume of an image it holds first (in a pod of its own: some runtimes run one container
    # per pod). Then api.proto Mount.image_sub_path: "If the sub path
    # is not empty and does not exist in the image, then runtimes should fail and return an
    # error"; and an image the runtime does not hold has nothing to mount.
    present = with_image_volume(cri, shared_pod, make_container, images)
    missing = present.config.mounts[0].image.image if image == "webserver" else image
    pod = make_pod()
    taken = answer_or_refusal(lambda: make_container(pod, mounts=[image_mount(missing, sub_path)]))
    assert isinstance(taken, CallFailed), (
        f"CreateContainer took an image volume of {what} ({missing!r}, image_sub_path "
        f"{sub_path!r}); it must be refused"
    )
