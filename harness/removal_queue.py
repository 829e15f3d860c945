"""Stopping and removing a test's pods while the next test runs.

StopPodSandbox and RemovePodSandbox are among the slowest calls a test makes (the pod's
network torn down through CNI, its processes killed and reaped), and nothing a test checks
depends on them once it has ended: what it made carries its own unique names and labels, as it
must anyway beside the other pytest-xdist workers. So a test's tracker reads every status
itself before the test ends (an object that is not the run's fails that test, untouched), then
hands the stops and removes of its pods to this queue: one thread per process works through
them in order while the next test runs.

The queue calls the runtime over a connection of its own: a runtime that hangs up on one of
its calls must not fail the call the next test is making at that moment.

At most ``backlog`` hand-overs wait at a time; a tracker that would exceed it waits, so a
runtime slower to remove than the tests are to create never piles up pods. What a hand-over
came to (errors, objects left alone) is reported by the next tracker to hand over, and what is
left at the end by ``close``, each error naming the test whose pods it concerns
(``on_behalf_of``); whatever could not be removed is still on the runtime for the end-of-run
sweep, which reports it as a leak.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from harness.client import CriClient
from harness.resources import Cleanup, Later, Removal

DEFAULT_BACKLOG = 2


class RemovalQueue:
    """Runs removals, one at a time, in a thread and over a client of its own (closed by
    ``close``)."""

    def __init__(self, client: CriClient, backlog: int = DEFAULT_BACKLOG) -> None:
        self._client = client
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cri-removal")
        self._slots = threading.BoundedSemaphore(backlog)
        self._lock = threading.Lock()
        self._finished = Cleanup()

    @classmethod
    def beside(cls, client: CriClient) -> RemovalQueue:
        """A queue for the runtime ``client`` calls, over a connection of its own."""
        return cls(CriClient(client.endpoints, client.timeout))

    def run(self, removal: Removal, owner: str = "") -> Cleanup:
        """Queue ``removal`` (waiting while ``backlog`` of them wait); return what the ones
        finished since the last call came to. ``owner`` (a test) prefixes its errors."""
        self._slots.acquire()
        done = partial(self._record, f"{owner}: " if owner else "")
        self._executor.submit(removal, self._client).add_done_callback(done)
        return self._take_finished()

    def on_behalf_of(self, owner: str) -> Later:
        """This queue as a tracker's ``later``, its errors naming ``owner``: they are reported
        by whichever test hands over next, not by ``owner`` itself."""
        return _OnBehalfOf(self, owner)

    def close(self) -> Cleanup:
        """Wait for every removal; what the ones not yet reported came to."""
        self._executor.shutdown(wait=True)
        self._client.close()
        return self._take_finished()

    def _record(self, prefix: str, done: Future[Cleanup]) -> None:
        error = done.exception()
        outcome = Cleanup(errors=[f"removal failed: {error!r}"]) if error else done.result()
        outcome = Cleanup([prefix + text for text in outcome.errors], outcome.left_alone)
        with self._lock:
            self._finished += outcome
        self._slots.release()

    def _take_finished(self) -> Cleanup:
        with self._lock:
            finished, self._finished = self._finished, Cleanup()
        return finished


@dataclass(frozen=True)
class _OnBehalfOf:
    queue: RemovalQueue
    owner: str

    def run(self, removal: Removal) -> Cleanup:
        return self.queue.run(removal, self.owner)
