"""The shim's image list on the real Docker Engine, with images changed behind its back.

ListImages and ImageStatus answer from the shim's image records, kept by Docker's image
events (``cri/image_records.py``); these check that its answers are those of Docker's image
store once Docker's event for a change made with the Docker API has reached the shim (within
``EVENT_WAIT_S`` here): tags added and taken away show, an image pulled by hand is listed,
and one removed by hand is gone; the shim's own pulls and removals show at once. Every image
is the run's own (``harness.bench.images``), and only those are tagged or removed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from docker_shim import Launch, connect, run_benchmark

from harness.bench.images import REPOSITORY, OwnImages
from harness.client import CriClient
from harness.images.catalog import prepare
from harness.images.registry import DEFAULT_ADDRESS
from harness.ownership import RunOwnership, new_run_id

EVENT_WAIT_S = 5.0


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
    found, disagree = _listing(client, image_id)
    assert not disagree, f"ListImages and ImageStatus disagree on {disagree}"
    return found


def _listing(client: CriClient, image_id: str) -> tuple[list[str] | None, list[str]]:
    """What ``_listed`` checks: the tags, and the images whose ImageStatus is not their
    ListImages entry (while a change arrives between the two calls, they may differ)."""
    found, disagree = None, []
    for image in client.list_images():
        if image != client.image_status(image.id).image:
            disagree.append(image.id)
        if image.id == image_id:
            found = sorted(image.repo_tags)
    return found, disagree


def _shows(client: CriClient, image_id: str, tags: list[str] | None) -> None:
    """ListImages gives the image ``tags`` (None: lists no such image), and ImageStatus agrees
    on every image, once Docker's event of the change has had the time to reach the shim."""
    deadline = time.monotonic() + EVENT_WAIT_S
    while (seen := _listing(client, image_id)) != (tags, []) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen == (tags, []), f"{EVENT_WAIT_S:g}s after the change: (tags, disagreeing ids)"


def test_tags_and_removals_made_behind_the_shims_back_show(
    client: CriClient, own: OwnImages, docker_api: docker.APIClient
) -> None:
    (reference,) = own.push(1)
    image_id = client.pull_image(reference)
    assert _listed(client, image_id) == [reference]
    extra = f"{own.run.run_id}-extra"
    docker_api.tag(image_id, f"{own.base.registry}/{REPOSITORY}", tag=extra)
    tagged = f"{own.base.registry}/{REPOSITORY}:{extra}"
    _shows(client, image_id, sorted([reference, tagged]))
    docker_api.remove_image(reference)  # takes the tag away; the image keeps the other
    _shows(client, image_id, [tagged])
    own.check(client.image_status(image_id).image)
    docker_api.remove_image(image_id, force=True)
    _shows(client, image_id, None)
    assert not client.image_status(image_id).HasField("image")


def test_images_pulled_and_removed_by_hand_show_and_go(
    client: CriClient, own: OwnImages, docker_api: docker.APIClient
) -> None:
    first, second = own.push(2)
    client.pull_image(first)
    assert client.list_images()  # the records have been read: what follows comes by events
    repository, tag = second.rsplit(":", 1)
    docker_api.pull(repository, tag=tag)
    engine: Any = docker_api  # the SDK is untyped
    image_id = str(engine.inspect_image(second)["Id"])
    _shows(client, image_id, [second])
    assert client.image_status(image_id).image.repo_tags == [second]
    docker_api.remove_image(image_id, force=True)
    _shows(client, image_id, None)
    assert not client.image_status(image_id).HasField("image")
    assert not client.image_status(second).HasField("image")


def test_a_tag_moved_by_hand_leaves_the_image_that_had_it(
    client: CriClient, own: OwnImages, docker_api: docker.APIClient
) -> None:
    old, new = own.push(2)
    old_id = client.pull_image(old)
    repository = f"{own.base.registry}/{REPOSITORY}"
    moving = f"{own.run.run_id}-moving"
    docker_api.tag(old_id, repository, tag=moving)
    _shows(client, old_id, sorted([old, f"{repository}:{moving}"]))
    new_id = client.pull_image(new)
    docker_api.tag(new_id, repository, tag=moving)  # moves it: Docker reports no untag
    _shows(client, new_id, sorted([new, f"{repository}:{moving}"]))
    assert _listed(client, old_id) == [old]


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


def test_an_image_committed_by_hand_without_a_tag_is_listed_and_goes(
    client: CriClient, own: OwnImages, docker_api: docker.APIClient
) -> None:
    """``docker commit`` sends no image event, only the container's ``commit``."""
    (reference,) = own.push(1)
    client.pull_image(reference)
    assert client.list_images()  # the records have been read: what follows comes by events
    engine: Any = docker_api  # the SDK is untyped
    container = engine.create_container(reference, command=["true"], labels=own.run.labels)
    try:
        committed = str(engine.commit(container["Id"])["Id"])
    finally:
        engine.remove_container(container["Id"], force=True)
    try:
        _shows(client, committed, [])
    finally:
        engine.remove_image(committed, force=True)
    _shows(client, committed, None)
