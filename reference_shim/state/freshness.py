"""Which records still show what the backend has, so status and list calls can skip asking it.

A record is *current* while the backend follows its own changes (it reports each one, see
``VmChanges`` in the backend contract), the shim has read the record's VM since the backend
began following, and nothing is about to change the record: no change reported for that VM
waits to be applied, and no read of it is under way. Anything else (the backend never follows,
its stream broke, a change just came in, a start in progress, a VM not read since a restart)
sends the caller to the backend, as if there were no records to trust.

Keyed by VM id, and knowing no CRI rule: the CRI layer says when it reads a VM (``reading``),
which changes arrived (``arrived``, by name), and takes them to apply them (``applying``):
whoever comes first, the change's own thread or a call that needs the record.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class Freshness:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._following = False
        self._read: set[str] = set()  # VMs read since following began
        self._arrived: dict[str, list[str]] = {}  # changes reported, not yet taken
        self._under_way: Counter[str] = Counter()  # reads and applications in progress

    def following(self) -> None:
        """Changes are reported from now on; earlier ones may have been missed: read again."""
        with self._lock:
            self._following = True
            self._read.clear()

    @property
    def follows(self) -> bool:
        """Whether the backend reports its changes now."""
        with self._lock:
            return self._following

    def lost(self) -> None:
        """Changes may go unreported from now on: every call asks the backend."""
        with self._lock:
            self._following = False
            self._read.clear()

    @contextmanager
    def reading(self, vm_id: str) -> Iterator[None]:
        """Around reading ``vm_id``'s state (or making it) into its record: a change after the
        read began is reported, so the record is current after it, unless the read failed."""
        with self._under_way_on(vm_id):
            with self._lock:
                if self._following:
                    self._read.add(vm_id)
            yield

    def arrived(self, vm_id: str, change: str) -> None:
        """``change`` of ``vm_id`` was reported; the record is not current until it is applied."""
        with self._lock:
            self._arrived.setdefault(vm_id, []).append(change)

    @contextmanager
    def applying(self, vm_id: str) -> Iterator[list[str]]:
        """Take the changes of ``vm_id`` that arrived (none when another caller took them) to
        apply them within the block: the record is not current before it ends."""
        with self._under_way_on(vm_id):
            with self._lock:
                changes = self._arrived.pop(vm_id, [])
            yield changes

    @contextmanager
    def _under_way_on(self, vm_id: str) -> Iterator[None]:
        with self._lock:
            self._under_way[vm_id] += 1
        try:
            yield
        except BaseException:
            with self._lock:
                self._read.discard(vm_id)  # what failed may have left the record behind
            raise
        finally:
            with self._lock:
                self._under_way[vm_id] -= 1
                if self._under_way[vm_id] <= 0:
                    del self._under_way[vm_id]

    def current(self, vm_id: str) -> bool:
        """Whether the record of ``vm_id`` shows what the backend has, without asking it."""
        with self._lock:
            about_to_change = vm_id in self._arrived or vm_id in self._under_way
            return self._following and vm_id in self._read and not about_to_change

    def forget(self, vm_id: str) -> None:
        """The VM's record is gone."""
        with self._lock:
            self._read.discard(vm_id)
            self._arrived.pop(vm_id, None)
