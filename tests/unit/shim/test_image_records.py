"""The shim's image records over a stand-in image store whose change reports the test hands
over itself (the fake event stream): what is answered from memory, what asks the store, and
that no answer is stale for a change the shim made or one whose report arrived."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from reference_shim.backends.base import FsUsage, ImageChange, ImageChanges, ImageInfo
from reference_shim.cri.image_records import ImageRecords
from reference_shim.cri.images import ConvertedImages

REPO = "127.0.0.1:5000/app"


def _info(number: int, *tags: str) -> ImageInfo:
    return ImageInfo(f"sha256:{number:064x}", tags, (), 1000 + number, "", (), ("sh",))


class Store:
    """An image store that counts the calls made to it; its own pulls and removals report
    themselves to ``records`` unless ``silent`` (a report that never comes)."""

    def __init__(self) -> None:
        self.by_id: dict[str, ImageInfo] = {}
        self.calls: Counter[str] = Counter()
        self.records: ImageChanges | None = None
        self.silent = False
        self.after_pull: Callable[[], None] = lambda: None  # what happens before it answers

    def outside(self, number: int, *tags: str) -> ImageInfo:
        """``docker pull`` or ``docker tag`` by hand: the tags move to this image."""
        for image_id, other in list(self.by_id.items()):
            kept = tuple(tag for tag in other.repo_tags if tag not in tags)
            self.by_id[image_id] = dataclasses.replace(other, repo_tags=kept)
        info = _info(number, *tags)
        self.by_id[info.id] = info
        return info

    def report(self, reference: str, change: ImageChange) -> None:
        if self.records is not None and not self.silent:
            self.records.changed(reference, change)

    def pull(self, reference: str, username: str, password: str) -> ImageInfo:
        self.calls["pull"] += 1
        self.outside(len(self.by_id) + 100, reference)
        self.report(reference, ImageChange.ADDED)
        info = self.get(reference)
        assert info is not None
        self.after_pull()
        return info

    def get(self, reference: str) -> ImageInfo | None:
        self.calls["get"] += 1
        for info in self.by_id.values():
            if reference == info.id or reference in info.repo_tags:
                return info
        return None

    def list_images(self) -> list[ImageInfo]:
        self.calls["list_images"] += 1
        return list(self.by_id.values())

    def remove(self, image_id: str) -> None:
        self.calls["remove"] += 1
        del self.by_id[image_id]
        self.report(image_id, ImageChange.UNTAGGED)
        self.report(image_id, ImageChange.REMOVED)

    def fs_usage(self) -> FsUsage:
        return FsUsage("/store", 0, 0)

    def mountpoint(self) -> str:
        return "/store"

    def watch_images(self, changes: ImageChanges, stop: threading.Event) -> None:
        stop.wait()


@pytest.fixture
def store() -> Store:
    store = Store()
    store.outside(1, f"{REPO}:1")
    store.outside(2, f"{REPO}:2")
    return store


@pytest.fixture
def records(store: Store) -> ImageRecords:
    records = ImageRecords(store, own_report_s=0.2)
    store.records = records
    records.following()
    return records


def _tags(records: ImageRecords) -> dict[str, tuple[str, ...]]:
    return {info.id: info.repo_tags for info in records.list_images()}


def test_a_backend_that_does_not_follow_is_asked_every_time(store: Store) -> None:
    records = ImageRecords(store)
    for _ in range(3):
        assert len(records.list_images()) == 2
        assert records.get(f"{REPO}:1") == store.by_id[_info(1).id]
    assert store.calls == Counter(list_images=3, get=3)


def test_while_following_the_store_is_read_once_then_never(
    store: Store, records: ImageRecords
) -> None:
    for _ in range(3):
        assert len(records.list_images()) == 2
        assert records.get(f"{REPO}:2") == store.by_id[_info(2).id]
        assert records.get(_info(1).id) == store.by_id[_info(1).id]
        assert records.get(_info(1).id.removeprefix("sha256:")) == store.by_id[_info(1).id]
    assert store.calls == Counter(list_images=1)


def test_a_name_the_records_lack_is_asked_of_the_store(store: Store, records: ImageRecords) -> None:
    records.list_images()
    assert records.get(f"{REPO}:missing") is None
    assert store.calls == Counter(list_images=1, get=1)


def test_an_outside_change_shows_once_its_report_arrived(
    store: Store, records: ImageRecords
) -> None:
    first = _info(1).id
    records.list_images()
    moved = store.outside(3, f"{REPO}:1")  # docker pull by hand moved the tag
    records.changed(f"{REPO}:1", ImageChange.ADDED)
    assert _tags(records) == {first: (), _info(2).id: (f"{REPO}:2",), moved.id: (f"{REPO}:1",)}
    assert records.get(f"{REPO}:1") == moved
    del store.by_id[moved.id]  # docker rmi by hand
    records.changed(f"{REPO}:1", ImageChange.UNTAGGED)
    records.changed(moved.id, ImageChange.REMOVED)
    assert moved.id not in _tags(records)
    assert store.calls == Counter(list_images=1, get=3)  # one read per report, no list


def test_the_shims_own_pull_and_removal_show_without_a_read(
    store: Store, records: ImageRecords
) -> None:
    records.list_images()
    store.calls.clear()
    pulled = records.pull(f"{REPO}:new", "", "")
    assert records.get(f"{REPO}:new") == pulled
    assert pulled.id in _tags(records)
    records.remove(pulled.id)
    assert records.get(pulled.id) is None  # asked of the store: the records lack it
    assert pulled.id not in _tags(records)
    assert store.calls == Counter(pull=1, get=2, remove=1)  # the pull's own read, the last get


def test_an_own_change_whose_report_never_comes_reads_everything_next(
    store: Store, records: ImageRecords
) -> None:
    records.list_images()
    store.silent = True
    pulled = records.pull(f"{REPO}:new", "", "")
    assert pulled.id in _tags(records)
    assert store.calls["list_images"] == 2


def test_an_own_pull_reads_again_when_another_call_wrote_meanwhile(
    store: Store, records: ImageRecords
) -> None:
    records.list_images()

    def another_call_applies_a_report() -> None:
        records.changed(_info(2).id, ImageChange.UNTAGGED)
        records.list_images()

    store.after_pull = another_call_applies_a_report
    store.calls.clear()
    pulled = records.pull(f"{REPO}:new", "", "")
    assert records.get(f"{REPO}:new") == pulled
    assert store.calls == Counter(pull=1, get=4)


def test_lost_asks_the_store_and_following_again_reads_everything(
    store: Store, records: ImageRecords
) -> None:
    records.list_images()
    records.lost()
    store.outside(3, f"{REPO}:3")  # its report was lost with the stream
    assert len(records.list_images()) == 3
    records.following()
    assert len(records.list_images()) == 3
    assert len(records.list_images()) == 3
    assert store.calls == Counter(list_images=3)


def test_a_report_before_the_first_full_read_is_covered_by_it(
    store: Store, records: ImageRecords
) -> None:
    added = store.outside(3, f"{REPO}:3")
    records.changed(f"{REPO}:3", ImageChange.ADDED)
    assert added.id in _tags(records)
    assert store.calls == Counter(list_images=1)


def test_a_list_converts_only_the_images_whose_record_changed(
    store: Store, records: ImageRecords
) -> None:
    converted = ConvertedImages(pod_image=f"{REPO}:2")
    first = converted.of(records.list_images())
    again = converted.of(records.list_images())
    assert [a is b for a, b in zip(first, again, strict=True)] == [True, True]
    store.outside(3, f"{REPO}:1")
    records.changed(f"{REPO}:1", ImageChange.ADDED)
    changed = {image.id: image for image in converted.of(records.list_images())}
    assert changed[_info(2).id] is again[1]  # its record is the same
    assert changed[_info(2).id].pinned
    assert list(changed[_info(1).id].repo_tags) == []  # the tag moved
    assert list(changed[_info(3).id].repo_tags) == [f"{REPO}:1"]


def test_an_unchanged_list_is_the_same_answer(store: Store, records: ImageRecords) -> None:
    converted = ConvertedImages(pod_image="")
    first = converted.response(records.list_images())
    assert converted.response(records.list_images()) is first
    records.changed(_info(1).id, ImageChange.UNTAGGED)
    assert converted.response(records.list_images()) is not first


def test_two_own_changes_begun_together_each_end_their_own(records: ImageRecords) -> None:
    """Two calls' changes begun with nothing reported yet: each ends its own (they once
    compared equal, so the first to end took the other's away, and the other's end failed
    with INTERNAL "list.remove(x): x not in list" in PullImage)."""
    with records._own_change() as first:
        with records._own_change() as second:
            assert first is not second
        records.changed(_info(1).id, ImageChange.UNTAGGED)  # reaches the first only
    assert not records._own
