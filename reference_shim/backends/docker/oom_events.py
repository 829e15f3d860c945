"""OOM kills as Docker announces them, for when its container state forgets one.

Docker 20.10 sets ``State.OOMKilled`` on the ``oom`` event and then overwrites it with the exit
event's value, so when the exit is handled after the OOM the flag reads false. The ``oom``
event itself is reliable: this watcher follows the event stream for the shim instance's VMs
and remembers which of them were OOM-killed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)


class OomWatcher:
    def __init__(self, api: Any, label_filter: str) -> None:
        self._api = api
        self._filters = {"type": ["container"], "event": ["oom"], "label": [label_filter]}
        self._killed: set[str] = set()
        self._lock = threading.Lock()
        self._stream: Any = None
        self._stopped = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._follow, name="docker-oom-events", daemon=True).start()

    def _follow(self) -> None:
        """Follow the stream; when it breaks (the API client's read timeout on a quiet stream,
        a Docker restart), reconnect from the moment it broke."""
        since = time.time()
        while not self._stopped.is_set():
            try:
                self._stream = self._api.events(decode=True, filters=self._filters, since=since)
                for event in self._stream:
                    since = float(event.get("time", since))
                    with self._lock:
                        self._killed.add(str(event.get("id", "")))
            except Exception as error:  # reconnect below unless the shim is stopping
                log.debug("Docker event stream broke, following again: %s", error)
            self._stopped.wait(0.5)

    def stop(self) -> None:
        self._stopped.set()
        if self._stream is not None:
            self._stream.close()

    def was_killed(self, vm_id: str) -> bool:
        with self._lock:
            return vm_id in self._killed

    def forget(self, vm_id: str) -> None:
        with self._lock:
            self._killed.discard(vm_id)
