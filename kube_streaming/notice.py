"""Noticing that a streaming connection ended.

A thread blocked on something else (a process's output, a full pipe) cannot wait on an event
too; the end of a connection is therefore announced to subscribers, on the thread that saw it
(``Notice``). A reader that stopped reading, to make a fast sender wait, can still see the
peer hang up (``hung_up``).
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable

_HANGUP = getattr(select, "POLLRDHUP", 0) | select.POLLHUP | select.POLLERR


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


def hung_up(sock: socket.socket) -> bool:
    """Whether the peer closed its end, seen without reading the data it sent before that.

    Linux reports a peer's close at once (POLLRDHUP); elsewhere only a connection that is
    gone both ways (POLLHUP) shows. A socket closed here counts as hung up too.
    """
    if sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, _HANGUP)
    return bool(poller.poll(0))
