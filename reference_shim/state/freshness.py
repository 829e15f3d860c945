"""Which records still show what the backend has, so status and list calls can skip asking it.

A record is *current* while the backend follows its own changes (it reports each one, see
``VmChanges`` in the backend contract), the shim has read the record's VM since the backend
began following, and nothing is about to change the record: no change reported for that VM
waits to be applied, and no read of it is under way. Anything else (the backend never follows,
its stream broke, a change just came in, a start in progress, a VM not read since a restart)
sends the caller to the backend, as if there were no records to trust.

Keyed by VM id, and knowing no CRI rule: the CRI layer says when it reads a VM
(``reading``), which changes arrived (``arrived``) and when it has applied one (``applied``).
A change is applied on a thread of its own, most often without a read (the shim's own start,
already in the record), so a call may wait for that (``wait_applied``) rather than read the VM
itself.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager


class Freshness:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._applied = threading.Condition(self._lock)
        self._following = False
        self._read: set[str] = set()  # VMs read since following began
        # The record is about to change: changes arrived and not yet applied; reads under way.
        self._arrived: Counter[str] = Counter()
        self._reads: Counter[str] = Counter()

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
        with self._lock:
            self._reads[vm_id] += 1
            if self._following:
                self._read.add(vm_id)
        try:
            yield
        except BaseException:
            with self._lock:
                self._read.discard(vm_id)
            raise
        finally:
            with self._lock:
                _count_down(self._reads, vm_id)

    def arrived(self, vm_id: str) -> None:
        """A change of ``vm_id`` was reported; until it is ``applied`` the record is not current."""
        with self._lock:
            self._arrived[vm_id] += 1

    def applied(self, vm_id: str) -> None:
        with self._lock:
            _count_down(self._arrived, vm_id)
            self._applied.notify_all()

    def wait_applied(self, vm_ids: Collection[str], timeout: float) -> None:
        """Until no change of ``vm_ids`` waits to be applied, for ``timeout`` seconds at most."""
        with self._lock:
            self._applied.wait_for(lambda: self._arrived.keys().isdisjoint(vm_ids), timeout)

    def current(self, vm_id: str) -> bool:
        """Whether the record of ``vm_id`` shows what the backend has, without asking it."""
        with self._lock:
            about_to_change = vm_id in self._arrived or vm_id in self._reads
            return self._following and vm_id in self._read and not about_to_change

    def forget(self, vm_id: str) -> None:
        """The VM's record is gone."""
        with self._lock:
            self._read.discard(vm_id)


def _count_down(counts: Counter[str], key: str) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]
