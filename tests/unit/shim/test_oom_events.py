"""The OOM watcher remembers Docker's oom events and follows the stream again when it breaks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from reference_shim.backends.docker.oom_events import OomWatcher


class BreakingEvents:
    """An events API whose first stream breaks (as on the client's read timeout)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def events(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls.append(kwargs)
        if len(self.calls) == 1:
            return self._breaks()
        return self._then_quiet()

    @staticmethod
    def _then_quiet() -> Iterator[dict[str, Any]]:
        yield {"id": "second", "time": 20}

    @staticmethod
    def _breaks() -> Iterator[dict[str, Any]]:
        yield {"id": "first", "time": 10}
        raise TimeoutError("read timed out")


def test_oom_events_are_remembered_across_a_broken_stream() -> None:
    api = BreakingEvents()
    watcher = OomWatcher(api, "owner=me")
    watcher.start()
    deadline = time.monotonic() + 5
    while not watcher.was_killed("second") and time.monotonic() < deadline:
        time.sleep(0.01)
    watcher.stop()
    assert watcher.was_killed("first")
    assert watcher.was_killed("second")
    assert api.calls[1]["since"] == 10, "the second stream must start where the first broke"
    assert api.calls[0]["filters"]["label"] == ["owner=me"]
    watcher.forget("first")
    assert not watcher.was_killed("first")
