"""``container stats`` shared between simultaneous callers: one sample takes Apple about 2 s,
and a pod's stats ask for its workload VM twice (as the pod and as its container) at once."""

from __future__ import annotations

import threading
import time

from reference_shim.backends.apple.cli import AppleCli
from reference_shim.backends.apple.documents import parse_stats
from reference_shim.backends.base import VmStats


class StatsSampler:
    def __init__(self, cli: AppleCli) -> None:
        self._cli = cli
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._latest: dict[str, tuple[float, VmStats | None]] = {}

    def sample(self, vm_id: str) -> VmStats | None:
        """The VM's counters, or None when it is not running (Apple leaves it out) or gone."""
        asked = time.monotonic()
        with self._lock:
            lock = self._locks.setdefault(vm_id, threading.Lock())
        with lock:
            latest = self._latest.get(vm_id)
            if latest is not None and latest[0] >= asked:
                return latest[1]  # finished while this caller waited for it: share it
            stats = self._take(vm_id)
            self._latest[vm_id] = (time.monotonic(), stats)
            return stats

    def _take(self, vm_id: str) -> VmStats | None:
        # --no-stream: two samples 2 s apart, printed once; the default is a live full-screen view.
        documents = self._cli.json_unless_missing(
            f"stats of VM {vm_id}", "stats", "--no-stream", "--format", "json", vm_id
        )
        return parse_stats(documents[0]) if documents else None
