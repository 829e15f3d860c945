"""Docker's event streams: a follower of one (``EventFollower``), and the one of the shim
instance's VMs, for OOM kills and changes (``DockerEvents``; images: ``image_events.py``).

Two things need Docker's container events. OOM kills: Docker 20.10 sets ``State.OOMKilled`` on
the ``oom`` event and then overwrites it with the exit event's value, so when the exit is
handled after the OOM the flag reads false; the ``oom`` event itself is reliable, so the
follower remembers which VMs were OOM-killed. And the shim's records: every start, exit
(``die``), OOM kill and removal (``destroy``) goes to the ``VmChanges`` that watch
(``DockerBackend.watch_changes``), so that the shim can answer status calls from its records.
Docker publishes each of these events once its container state shows the change (it holds the
container's lock across both), so a record read again on an event is up to date.

The stream is asked for with ``since``: Docker replays what it kept from then on before the
live events, in one step with subscribing, so nothing falls between the moment asked for and
the subscription; watchers are told the follower follows once the stream answers. When the
stream breaks (a Docker restart), they are told it lost them, and it follows again from the
last event it saw.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from reference_shim.backends.base import VmChange, VmChanges

log = logging.getLogger(__name__)

CHANGES = {
    "start": VmChange.STARTED,
    "die": VmChange.EXITED,
    "oom": VmChange.OOM_KILLED,
    "destroy": VmChange.REMOVED,
}
_RECONNECT_S = 0.5


def _event_time(event: dict[str, Any], default: float) -> float:
    """Seconds since the epoch, to the nanosecond Docker gives (``since`` takes fractions)."""
    if event.get("timeNano"):
        return int(event["timeNano"]) / 1e9
    return float(event.get("time", default))


class Watcher(Protocol):
    """What a follower tells its watchers besides their changes (``VmChanges``,
    ``ImageChanges``)."""

    def following(self) -> None: ...

    def lost(self) -> None: ...


W = TypeVar("W", bound=Watcher)


class EventFollower(ABC, Generic[W]):
    """Follows one filtered Docker event stream from ``start`` on and tells its watchers what
    ``_received`` makes of each event, and whether it follows (the stream answers)."""

    def __init__(self, api: Any, filters: dict[str, list[str]], name: str) -> None:
        self._api = api
        self._filters = filters
        self._name = name
        self._watchers: list[W] = []
        self._following = False
        # Watchers are told under ``_lock``, in order.
        self._lock = threading.Lock()
        self._stream: Any = None
        self._stopped = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._follow, name=self._name, daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        if self._stream is not None:
            self._stream.close()

    def _follow(self) -> None:
        since = time.time()
        while not self._stopped.is_set():
            try:
                self._stream = self._api.events(decode=True, filters=self._filters, since=since)
                self._set_following(True)
                for event in self._stream:
                    since = _event_time(event, since)
                    self._received(event)
            except Exception as error:  # follow again below unless the shim is stopping
                log.debug("Docker event stream %s broke, following again: %s", self._name, error)
            self._set_following(False)
            self._stopped.wait(_RECONNECT_S)

    def _set_following(self, following: bool) -> None:
        with self._lock:
            if following == self._following:
                return
            self._following = following
            for watcher in self._watchers:
                if following:
                    watcher.following()
                else:
                    watcher.lost()

    @abstractmethod
    def _received(self, event: dict[str, Any]) -> None:
        """Tell the watchers what ``event`` means to them (``_tell``)."""

    def _tell(self, told: Callable[[W], None]) -> None:
        with self._lock:
            for watcher in self._watchers:
                told(watcher)

    def watch(self, watcher: W, stop: threading.Event) -> None:
        """Report to ``watcher`` until ``stop`` is set."""
        self.subscribe(watcher)
        try:
            stop.wait()
        finally:
            self.unsubscribe(watcher)

    def subscribe(self, watcher: W) -> None:
        with self._lock:
            self._watchers.append(watcher)
            if self._following:
                watcher.following()

    def unsubscribe(self, watcher: W) -> None:
        with self._lock:
            self._watchers.remove(watcher)


def actor_id(event: dict[str, Any]) -> str:
    return str(event.get("id") or (event.get("Actor") or {}).get("ID") or "")


def action(event: dict[str, Any]) -> str:
    return str(event.get("status") or event.get("Action") or "")


class DockerEvents(EventFollower[VmChanges]):
    """The container events of the shim instance's VMs."""

    def __init__(self, api: Any, label_filter: str) -> None:
        filters = {"type": ["container"], "event": list(CHANGES), "label": [label_filter]}
        super().__init__(api, filters, "docker-events")
        self._killed: set[str] = set()
        # The OOM kills have a lock of their own, so that a watcher may inspect a VM (which
        # asks ``was_killed``) while it is told.
        self._killed_lock = threading.Lock()

    def _received(self, event: dict[str, Any]) -> None:
        vm_id = actor_id(event)
        change = CHANGES.get(action(event))
        if not vm_id or change is None:
            return
        if change is VmChange.OOM_KILLED:
            with self._killed_lock:
                self._killed.add(vm_id)
        self.report(vm_id, change)

    def report(self, vm_id: str, change: VmChange) -> None:
        """Tell every watcher (also for what the backend learns elsewhere: cgroup OOMs)."""
        self._tell(lambda watcher: watcher.changed(vm_id, change))

    def was_killed(self, vm_id: str) -> bool:
        with self._killed_lock:
            return vm_id in self._killed

    def forget(self, vm_id: str) -> None:
        with self._killed_lock:
            self._killed.discard(vm_id)
