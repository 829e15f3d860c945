"""An event that also calls back: how a streaming session says its connection has ended.

A thread blocked on something else (a process's output, a full pipe) cannot wait on an event
too; the end of a connection is therefore announced to subscribers, on the thread that saw it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Notice(threading.Event):
    """A ``threading.Event`` that is set once and calls each subscriber once when it is.

    A subscriber that comes after the event is called at once, on its own thread, so a
    connection that ended before anyone listened is still reported.
    """

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()
        self._subscribers: list[Callable[[], None]] = []

    def set(self) -> None:
        with self._guard:
            if self.is_set():
                return
            super().set()
            subscribers, self._subscribers = self._subscribers, []
        for subscriber in subscribers:
            subscriber()

    def subscribe(self, callback: Callable[[], None]) -> None:
        with self._guard:
            if not self.is_set():
                self._subscribers.append(callback)
                return
        callback()
