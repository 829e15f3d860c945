"""The contract's image change reports (``watch_images``): a backend that says it follows its
image store reports each image added and removed, once ``get`` shows it; one that does not
never says so, and returns once told to stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from contract_drivers import Driver, wait_for, watching

from reference_shim.backends.base import ImageBackend, ImageChange, ImageInfo


class ImageWatcher:
    """An ``ImageChanges`` that writes down each change with what ``get`` shows when it is told
    (a real watcher returns at once; this one may take its time)."""

    def __init__(self, images: ImageBackend) -> None:
        self._images = images
        self.seen: list[tuple[str, ImageChange, ImageInfo | None]] = []
        self.follows = False

    def following(self) -> None:
        self.follows = True

    def changed(self, reference: str, change: ImageChange) -> None:
        self.seen.append((reference, change, self._images.get(reference)))

    def lost(self) -> None:
        self.follows = False

    def shown(self, change: ImageChange, image_id: str) -> list[ImageInfo | None]:
        """What ``get`` showed for each report of ``change`` about the image ``image_id``."""
        return [
            found
            for reference, seen_change, found in self.seen
            if seen_change is change and (reference == image_id or (found and found.id == image_id))
        ]


@pytest.fixture
def image_watcher(driver: Driver) -> Iterator[ImageWatcher]:
    images = driver.backend.images
    with watching(images.watch_images, ImageWatcher(images), driver.follows) as watcher:
        yield watcher


def test_a_following_backend_reports_images_added_and_removed(
    driver: Driver, image_watcher: ImageWatcher
) -> None:
    if not driver.follows:
        pytest.skip(f"the {driver.name} backend does not follow its image store")
    info = driver.pull_own()
    wait_for(lambda: image_watcher.shown(ImageChange.ADDED, info.id) != [])
    assert image_watcher.shown(ImageChange.ADDED, info.id)[0] == info
    driver.backend.images.remove(info.id)
    wait_for(lambda: image_watcher.shown(ImageChange.REMOVED, info.id) != [])
    assert image_watcher.shown(ImageChange.REMOVED, info.id) == [None]
    assert image_watcher.follows


def test_a_backend_that_does_not_follow_its_images_never_says_it_does(
    driver: Driver, image_watcher: ImageWatcher
) -> None:
    if driver.follows:
        pytest.skip(f"the {driver.name} backend follows its image store")
    threading.Event().wait(0.2)  # a backend about to say it follows would have said it by now
    assert not image_watcher.follows
