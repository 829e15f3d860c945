"""RemoveImage: by tag, by id, of a missing image, of one of two tags, and concurrently.

Every test removes an image of its own (``removable-*``), never a shared one, so tests in
other workers keep their images. A removed image must be gone at once from ImageStatus under
every name and from ListImages.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.client import CallFailed, CriClient
from harness.image_store import listed, present, pull_and_status, references
from harness.images.catalog import ImageCatalog, TestImage
from harness.lookup import unknown_id

AbsentImage = Callable[[str], TestImage]
CONCURRENT_REMOVALS = 5


def assert_gone(cri: CriClient, image: TestImage) -> None:
    """No name of ``image`` resolves, and ListImages does not have it."""
    left = {ref: found.id for ref in references(image) if (found := present(cri, ref))}
    assert not left, f"ImageStatus still finds the removed image: {left}"
    assert present(cri, image.config_digest) is None, "ImageStatus still finds it by id"
    assert listed(cri, image.config_digest) is None, "ListImages still lists the removed image"


@pytest.mark.feature("image.remove.by-tag")
def test_removing_an_image_by_tag_removes_it(cri: CriClient, absent_image: AbsentImage) -> None:
    image = absent_image("removable-tag")
    pull_and_status(cri, image.ref)
    cri.remove_image(image.ref)
    assert_gone(cri, image)


@pytest.mark.feature("image.remove.by-id")
def test_removing_an_image_by_id_removes_it(cri: CriClient, absent_image: AbsentImage) -> None:
    image = absent_image("removable-id")
    status = pull_and_status(cri, image.ref)[1]
    cri.remove_image(status.id)
    assert_gone(cri, image)


@pytest.mark.feature("image.remove.missing")
def test_removing_a_missing_image_is_not_an_error(cri: CriClient, images: ImageCatalog) -> None:
    cri.remove_image(images.busybox.tag_ref("cri-conformance-missing"))
    cri.remove_image(f"sha256:{unknown_id()}")


@pytest.mark.feature("image.remove.one-of-two-tags")
def test_removing_one_tag_of_two_leaves_a_consistent_image(
    cri: CriClient, absent_image: AbsentImage
) -> None:
    """The API leaves open whether the other tag survives (CRI-O untags, containerd deletes).

    Either way the removed tag must be gone, and a surviving image must still be the same
    image, now under the other tag alone.
    """
    image = absent_image("removable-twotags")
    removed, kept = (image.tag_ref(tag) for tag in image.tags)
    pull_and_status(cri, removed)
    status = pull_and_status(cri, kept)[1]
    cri.remove_image(removed)
    assert present(cri, removed) is None, f"ImageStatus({removed}) still finds the image"
    left = present(cri, kept)
    if left is not None:
        assert (left.id, list(left.repo_tags)) == (status.id, [kept])
    else:
        assert present(cri, status.id) is None, (
            f"{kept} is gone but the image {status.id} is still there without it"
        )


@pytest.mark.feature("image.remove.concurrent")
def test_concurrent_removals_of_one_image_all_succeed(
    cri: CriClient, absent_image: AbsentImage
) -> None:
    image = absent_image("removable-concurrent")
    image_id = pull_and_status(cri, image.ref)[1].id

    def remove_then_look() -> str:
        try:
            cri.remove_image(image_id)
        except CallFailed as error:
            return f"failed: {error}"
        return "still present" if present(cri, image_id) else "gone"

    with ThreadPoolExecutor(CONCURRENT_REMOVALS) as pool:
        outcomes = list(pool.map(lambda _: remove_then_look(), range(CONCURRENT_REMOVALS)))
    assert outcomes == ["gone"] * CONCURRENT_REMOVALS
    assert_gone(cri, image)
