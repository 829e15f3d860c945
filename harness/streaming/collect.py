"""Background readers that gather a stream's bytes while the test does other things.

Output must be read while the command runs: a peer that keeps SPDY windows stops sending
once the client stops reading, and the command then blocks on a full pipe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kube_streaming.errors import StreamingError


class Collector:
    """Calls ``read`` until it returns b"" and keeps what it returned."""

    def __init__(self, name: str, read: Callable[[], bytes]) -> None:
        self.name = name
        self._read = read
        self._data = bytearray()
        self._changed = threading.Condition()
        self._error: Exception | None = None
        self._done = False
        self._thread = threading.Thread(target=self._run, name=f"collect-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while chunk := self._read():
                with self._changed:
                    self._data += chunk
                    self._changed.notify_all()
        except Exception as error:  # reported by result(), on the test's thread
            self._error = error
        finally:
            with self._changed:
                self._done = True
                self._changed.notify_all()

    def snapshot(self) -> bytes:
        with self._changed:
            return bytes(self._data)

    def wait_for(self, wanted: bytes, timeout: float) -> bytes:
        """Everything so far, once it contains ``wanted``."""
        with self._changed:
            if not self._changed.wait_for(lambda: wanted in self._data or self._done, timeout):
                raise TimeoutError(
                    f"{self.name}: {wanted!r} not seen within {timeout}s; got {bytes(self._data)!r}"
                )
            if wanted not in self._data:
                raise StreamingError(
                    f"{self.name} ended without {wanted!r}; got {bytes(self._data)!r}"
                )
            return bytes(self._data)

    def result(self, deadline: float) -> bytes:
        """All the bytes, once the stream ended, by ``deadline`` (a monotonic time)."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: self._done, max(0.0, deadline - time.monotonic())
            ):
                raise TimeoutError(
                    f"{self.name} still open at the deadline; got so far {bytes(self._data)!r}"
                )
        if self._error is not None:
            raise StreamingError(f"reading {self.name} failed: {self._error}") from self._error
        return bytes(self._data)
