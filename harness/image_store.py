"""The runtime's image store as image tests see it: what is present, and making an image absent.

Image-removal tests start from an image the runtime does not hold, so that a pull is a real
pull and a removal removes what the test put there. Only the test's own images (recipes named
``removable-*`` and ``twotags``) may be made absent; the shared images stay, because tests in
other workers run containers from them.
"""

from __future__ import annotations

from collections.abc import Iterator

from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.factories import ImagePuller
from harness.images.catalog import TestImage

SHARED_IMAGES = frozenset(
    {"busybox", "webserver", "nonroot", "entrypoint", "pause", "named-user", "groups"}
)


def present(cri: CriClient, ref: str) -> api.Image | None:
    """The runtime's record of ``ref`` (a tag, digest or id), or None when it has none."""
    response = cri.image_status(ref)
    return response.image if response.HasField("image") else None


def pull_and_status(
    cri: CriClient, pull_ref: str, status_ref: str | None = None
) -> tuple[str, api.Image]:
    """Pull ``pull_ref``: the PullImage image_ref, and the ImageStatus of ``status_ref``.

    The status must be there at once: a runtime may not answer a pull before it is done.
    """
    image_ref = cri.pull_image(pull_ref)
    status_ref = status_ref or pull_ref
    found = present(cri, status_ref)
    assert found is not None, f"ImageStatus({status_ref}) is empty after PullImage({pull_ref})"
    return image_ref, found


def listed(cri: CriClient, image_id: str) -> api.Image | None:
    """The ListImages entry with this id, or None."""
    return next((image for image in cri.list_images() if image.id == image_id), None)


def references(image: TestImage) -> Iterator[str]:
    """Every name the test image can be pulled by: each tag, then the digest."""
    for tag in image.tags:
        yield image.tag_ref(tag)
    yield image.digest_ref


def make_absent(cri: CriClient, puller: ImagePuller, image: TestImage) -> None:
    """Remove ``image`` under all its names, and make the puller pull it again next time."""
    if image.name in SHARED_IMAGES:
        raise ValueError(f"{image.name} is shared by parallel tests and must never be removed")
    for ref in references(image):
        found = present(cri, ref)
        if found is not None:
            cri.remove_image(found.id)
        puller.forget(ref)
