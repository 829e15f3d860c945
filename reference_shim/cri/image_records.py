"""The shim's image records: ImageStatus and ListImages answered from memory while the backend
reports every change of its image store (``ImageChanges``), as ``cri/current.py`` does for
pods and containers.

The records answer while the backend follows its image changes, the whole store has been read
since it began to (*complete*), and every change that arrived has been applied. A change is
applied by reading again the image it names (``get``): an image found replaces its record and
takes its names (tags and repo digests, each of which names one image) from every other record,
since a pull that moves a tag reports nothing for the image that had it; an image not found
leaves the records, and so does the name. Changes are applied by the call that needs the
records, reads and writes under one lock, so that no read's result is written over by an older
one's.

The shim's own PullImage and RemoveImage put their change in the records before they answer.
Each waits for the backend's report of its own change: the first report about its image that
arrived after it began (Docker reports in order, so a report before its own is of a change
made before its own, and shown by what it read after it), then writes what it read, read again
only if another call wrote to the records meanwhile. A report that does not come within
``OWN_REPORT_S`` sends the records back to a full read.

While the backend does not follow (it never does, or its stream broke), every call asks the
backend, as before there were records; once it follows again, the next call reads it all.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from reference_shim.backends.base import ImageBackend, ImageChange, ImageInfo

OWN_REPORT_S = 1.0


@dataclasses.dataclass(frozen=True)
class Arrival:
    """One change the backend reported, numbered in the order of arrival."""

    number: int
    reference: str
    change: ImageChange


@dataclasses.dataclass(eq=False)  # each is one call's: two of them are never the same
class OwnChange:
    """The reports that arrived since one of the shim's own changes began."""

    writes: int  # the records' write count when it began
    arrivals: list[Arrival] = dataclasses.field(default_factory=list)

    def first(self, names: frozenset[str], change: ImageChange) -> Arrival | None:
        return next((a for a in self.arrivals if a.change is change and a.reference in names), None)


def names_of(info: ImageInfo) -> frozenset[str]:
    """Every reference that names exactly this image: its id, tags and repo digests."""
    return frozenset((info.id, *info.repo_tags, *info.repo_digests))


def _without(info: ImageInfo, names: frozenset[str]) -> ImageInfo:
    return dataclasses.replace(
        info,
        repo_tags=tuple(tag for tag in info.repo_tags if tag not in names),
        repo_digests=tuple(digest for digest in info.repo_digests if digest not in names),
    )


class ImageRecords:
    """The image calls the CRI layer makes, over ``backend``; also the ``ImageChanges`` it
    watches with (``watch_images``)."""

    def __init__(self, backend: ImageBackend, own_report_s: float = OWN_REPORT_S) -> None:
        self.backend = backend
        self._own_report_s = own_report_s
        self._lock = threading.Condition()
        self._writing = threading.Lock()  # a read of the backend for the records, and its write
        self._following = False
        self._complete = False
        self._epoch = 0  # changes at each following and lost: what was read before is void
        self._by_id: dict[str, ImageInfo] = {}
        self._listed: list[ImageInfo] | None = None  # the answer of list_images until a write
        self._arrived: list[Arrival] = []  # reported, not yet applied
        self._numbered = 0
        self._writes = 0
        self._own: list[OwnChange] = []

    # -- what the backend reports (ImageChanges) ---------------------------------------

    def following(self) -> None:
        self._restart(following=True)

    def lost(self) -> None:
        self._restart(following=False)

    def _restart(self, following: bool) -> None:
        with self._lock:
            self._following = following
            self._complete = False
            self._epoch += 1
            self._by_id.clear()
            self._listed = None
            self._arrived.clear()
            self._lock.notify_all()

    def changed(self, reference: str, change: ImageChange) -> None:
        with self._lock:
            self._numbered += 1
            arrival = Arrival(self._numbered, reference, change)
            self._arrived.append(arrival)
            for own in self._own:
                own.arrivals.append(arrival)
            self._lock.notify_all()

    # -- answers ---------------------------------------------------------------------------

    def get(self, reference: str) -> ImageInfo | None:
        """The image ``reference`` names; from the records when they have it by that very
        name or id, else from the backend (which resolves short ids and normalizes names)."""
        if self._current():
            with self._lock:
                found = self._find(reference)
            if found is not None:
                return found
        return self.backend.get(reference)

    def list_images(self) -> list[ImageInfo]:
        """Every image; from the records, the same list until they change (not to be changed:
        ``ConvertedImages`` knows it again by its identity)."""
        if self._current():
            with self._lock:
                if self._listed is None:
                    self._listed = list(self._by_id.values())
                return self._listed
        return self.backend.list_images()

    def _find(self, reference: str) -> ImageInfo | None:
        found = self._by_id.get(reference) or self._by_id.get(f"sha256:{reference}")
        if found is not None:
            return found
        return next((info for info in self._by_id.values() if reference in names_of(info)), None)

    def _current(self) -> bool:
        """Whether the records show the backend's store, once what arrived is applied."""
        with self._lock:
            if not self._following:
                return False
            if self._complete and not self._arrived:
                return True
        with self._writing:
            with self._lock:
                if not self._following:
                    return False
                epoch, upto, complete = self._epoch, self._numbered, self._complete
                references = list(dict.fromkeys(a.reference for a in self._arrived))
            if complete:
                found = {reference: self.backend.get(reference) for reference in references}
            else:
                listed = self.backend.list_images()
            with self._lock:
                if epoch != self._epoch:
                    return False
                if complete:
                    for reference, info in found.items():
                        self._write(reference, info)
                else:
                    self._by_id = {info.id: info for info in listed}
                    self._listed = None
                    self._complete = True
                self._arrived = [a for a in self._arrived if a.number > upto]
                self._writes += 1
                return True

    def _write(self, reference: str, info: ImageInfo | None) -> None:
        """``reference`` names ``info`` now (None: nothing); under ``_lock``."""
        self._listed = None
        if info is None:
            self._by_id.pop(reference, None)
            taken = frozenset({reference})
        else:
            self._by_id[info.id] = info
            taken = names_of(info) - {info.id}
        for image_id, other in list(self._by_id.items()):
            if (info is None or image_id != info.id) and taken & names_of(other):
                self._by_id[image_id] = _without(other, taken)

    # -- the shim's own changes ------------------------------------------------------------

    def pull(self, reference: str, username: str, password: str) -> ImageInfo:
        with self._own_change() as own:
            info = self.backend.pull(reference, username, password)
            self._settle(own, names_of(info), ImageChange.ADDED, info.id, info)
            return info

    def remove(self, image_id: str) -> None:
        with self._own_change() as own:
            self.backend.remove(image_id)
            self._settle(own, frozenset({image_id}), ImageChange.REMOVED, image_id, None)

    @contextmanager
    def _own_change(self) -> Iterator[OwnChange]:
        with self._lock:
            own = OwnChange(writes=self._writes)
            self._own.append(own)
        try:
            yield own
        finally:
            with self._lock:
                self._own.remove(own)

    def _settle(
        self,
        own: OwnChange,
        names: frozenset[str],
        change: ImageChange,
        image_id: str,
        info: ImageInfo | None,
    ) -> None:
        """Write the shim's own change of ``image_id`` (now ``info``) once its report came."""

        def reported() -> bool:
            return own.first(names, change) is not None or not self._following

        with self._lock:
            if not self._lock.wait_for(reported, self._own_report_s) and self._following:
                self._complete = False  # the report is late: read everything next time
            arrival = own.first(names, change)
            if arrival is None or not self._following:
                return
        with self._writing:
            with self._lock:
                epoch, written = self._epoch, self._writes != own.writes
            if written and info is not None:  # what was read may be older than the records
                info = self.backend.get(image_id)
            with self._lock:
                if epoch == self._epoch and self._complete:
                    self._write(image_id, info)
                    self._arrived = [
                        a for a in self._arrived
                        if a.number > arrival.number or a.reference not in names
                    ]  # fmt: skip
                    self._writes += 1
