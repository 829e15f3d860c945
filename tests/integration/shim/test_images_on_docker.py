"""The shim's image list on the real Docker Engine, with images changed behind its back.

ListImages serves each image's config from a cache by image id (``image_configs``); these
check that its answers stay those of Docker's image store of the moment: tags added and
taken away with the Docker API show at once, and an image removed with it is gone. Every
image is the run's own (``harness.bench.images``), and only those are tagged or removed.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
from docker_shim import Launch, connect, run_benchmark

from harness.bench.images import REPOSITORY, OwnImages
from harness.client import CriClient
from harness.images.catalog import prepare
from harness.images.registry import DEFAULT_ADDRESS
from harness.ownership import RunOwnership, new_run_id


@pytest.fixture
def own() -> OwnImages:
    return OwnImages(prepare(DEFAULT_ADDRESS, publish=False).busybox, RunOwnership(new_run_id()))


@pytest.fixture
def client(launch: Launch, own: OwnImages) -> Iterator[CriClient]:
    client = connect(launch())
    yield client
    own.remove_all(client)
    client.close()


def _listed(client: CriClient, image_id: str) -> list[str] | None:
    """The tags ListImages gives the image, None when it lists no such image; every entry
    must equal its ImageStatus."""
    found = None
    for image in client.list_images():
        status = client.image_status(image.id).image
        assert image == status, f"ListImages and ImageStatus disagree on {image.id}"
        if image.id == image_id:
            found = sorted(image.repo_tags)
    return found


def test_tags_and_removals_made_behind_the_shims_back_show_at_once(
    client: CriClient, own: OwnImages, docker_api: docker.APIClient
) -> None:
    (reference,) = own.push(1)
    image_id = client.pull_image(reference)
    assert _listed(client, image_id) == [reference]
    extra = f"{own.run.run_id}-extra"
    docker_api.tag(image_id, f"{own.base.registry}/{REPOSITORY}", tag=extra)
    tagged = f"{own.base.registry}/{REPOSITORY}:{extra}"
    assert _listed(client, image_id) == sorted([reference, tagged])
    docker_api.remove_image(reference)  # takes the tag away; the image keeps the other
    assert _listed(client, image_id) == [tagged]
    own.check(client.image_status(image_id).image)
    docker_api.remove_image(image_id, force=True)
    assert _listed(client, image_id) is None
    assert not client.image_status(image_id).HasField("image")


def test_an_image_pulled_again_after_its_removal_is_listed_again(
    client: CriClient, own: OwnImages
) -> None:
    (reference,) = own.push(1)
    image_id = client.pull_image(reference)
    client.list_images()
    client.remove_image(reference)
    assert _listed(client, image_id) is None
    assert client.pull_image(reference) == image_id
    assert _listed(client, image_id) == [reference]


def test_the_image_benchmark_runs_and_removes_its_images() -> None:
    printed = run_benchmark("shim_images.py", "--counts", "2,4", "--samples", "2")
    assert "4 images of the run removed" in printed  # the lifecycle round removes its own
    assert "ListImages" in printed
