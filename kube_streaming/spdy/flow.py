"""SPDY/3.1 flow control: how many bytes a sender may still put on a stream.

Every stream and the session as a whole start with a 64 KiB send window; DATA spends it,
WINDOW_UPDATE refills it, and SETTINGS_INITIAL_WINDOW_SIZE moves every stream window by the
change. Go's ``spdystream`` (kubelet, containerd, CRI-O) ignores windows both ways and never
sends WINDOW_UPDATE, so a sender that always obeyed windows would stall after 64 KiB against
them. Windows are therefore enforced only once the peer shows it keeps them, by sending
SETTINGS or WINDOW_UPDATE; this package's own sessions announce SETTINGS when they start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEFAULT_WINDOW = 64 * 1024
RECEIVE_WINDOW = 1024 * 1024
"""What this package's sessions let a peer send ahead, per stream and for the session: a
64 KiB window costs a round trip every 64 KiB, which caps a local stream at a few MB/s."""
MAX_WINDOW = (1 << 31) - 1


class FlowControlError(Exception):
    """The peer grew a window past 2^31-1, which SPDY/3.1 forbids."""


class ReceiveCredit:
    """Window given back as the application consumes data, a quarter window at a time
    (a WINDOW_UPDATE per read would double the frames for small reads)."""

    def __init__(self, window: int = RECEIVE_WINDOW) -> None:
        self.threshold = window // 4
        self._lock = threading.Lock()
        self._owed: dict[int, int] = {}

    def consumed(self, stream_id: int, amount: int) -> list[tuple[int, int]]:
        """The (stream id, delta) window updates due now; stream 0 is the session."""
        due = []
        with self._lock:
            for key in (stream_id, 0):
                owed = self._owed.get(key, 0) + amount
                if owed >= self.threshold:
                    due.append((key, owed))
                    owed = 0
                self._owed[key] = owed
        return due

    def forget(self, stream_id: int) -> None:
        with self._lock:
            self._owed.pop(stream_id, None)


class SendWindows:
    """The session window and one window per open stream, shared by writers and the reader."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.enforced = False
        self.session = DEFAULT_WINDOW
        self.initial = DEFAULT_WINDOW
        self._streams: dict[int, int] = {}

    def open(self, stream_id: int) -> None:
        with self._changed:
            self._streams[stream_id] = self.initial

    def forget(self, stream_id: int) -> None:
        with self._changed:
            self._streams.pop(stream_id, None)
            self._changed.notify_all()

    def stream(self, stream_id: int) -> int | None:
        with self._changed:
            return self._streams.get(stream_id)

    def enforce(self) -> None:
        with self._changed:
            self.enforced = True

    def set_initial(self, size: int) -> None:
        """SETTINGS_INITIAL_WINDOW_SIZE: open streams move by the change, may go negative."""
        with self._changed:
            delta, self.initial = size - self.initial, size
            for stream_id in self._streams:
                self._streams[stream_id] += delta
            self.enforced = True
            self._changed.notify_all()

    def grow(self, stream_id: int, delta: int) -> None:
        """WINDOW_UPDATE; stream 0 is the session. Unknown streams are already closed."""
        with self._changed:
            self.enforced = True
            if stream_id == 0:
                self.session = self._checked(self.session + delta)
            elif stream_id in self._streams:
                self._streams[stream_id] = self._checked(self._streams[stream_id] + delta)
            self._changed.notify_all()

    @staticmethod
    def _checked(window: int) -> int:
        if window > MAX_WINDOW:
            raise FlowControlError(f"window grew to {window}, past 2^31-1")
        return window

    def wake(self) -> None:
        """Let blocked writers look again (their stream or the session closed)."""
        with self._changed:
            self._changed.notify_all()

    def take(
        self, stream_id: int, wanted: int, timeout: float | None, stop: Callable[[], bool]
    ) -> int:
        """Spend up to ``wanted`` bytes of window, waiting while it is empty.

        Returns 0 when ``stop()`` turns true (the stream or session closed); raises
        TimeoutError when no window opened within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                if stop() or stream_id not in self._streams:
                    return 0
                if not self.enforced:
                    return wanted
                granted = min(wanted, self.session, self._streams[stream_id])
                if granted > 0:
                    self.session -= granted
                    self._streams[stream_id] -= granted
                    return granted
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"stream {stream_id}: the peer opened no send window")
                self._changed.wait(remaining)
