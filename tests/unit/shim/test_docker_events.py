"""The Docker event follower: it remembers OOM kills, tells watchers each change and whether it
follows, and follows the stream again from where it broke."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from reference_shim.backends.base import ImageChange, VmChange
from reference_shim.backends.docker.events import DockerEvents
from reference_shim.backends.docker.image_events import DockerImageEvents


class QuietStream:
    """A stream that gives its events, then stays open until it is closed (as the SDK's)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self._events = events
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self._events
        self._closed.wait(5)

    def close(self) -> None:
        self._closed.set()


class BreakingEvents:
    """An events API whose first stream breaks (as when Docker restarts); the second one stays
    open."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def events(self, **kwargs: Any) -> Iterable[dict[str, Any]]:
        self.calls.append(kwargs)
        if len(self.calls) == 1:
            return self._breaks()
        return QuietStream(
            [
                {"id": "second", "status": "oom", "time": 20, "timeNano": 20_500_000_000},
                {"Actor": {"ID": "second"}, "Action": "die", "time": 20},
                {"id": "second", "status": "exec_start: sh", "time": 20},  # not a change
            ]
        )

    @staticmethod
    def _breaks() -> Iterator[dict[str, Any]]:
        yield {"id": "first", "status": "start", "time": 9}
        yield {"id": "first", "status": "oom", "time": 10}
        raise TimeoutError("read timed out")


class Recorder:
    """A ``VmChanges`` or ``ImageChanges`` that writes down what it is told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, ...]] = []

    def following(self) -> None:
        self.told.append(("following",))

    def changed(self, name: str, change: VmChange | ImageChange) -> None:
        self.told.append((name, change.value))

    def lost(self) -> None:
        self.told.append(("lost",))


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "not so in time"
        time.sleep(0.01)


def test_changes_and_oom_kills_are_followed_across_a_broken_stream() -> None:
    api = BreakingEvents()
    follower = DockerEvents(api, "owner=me")
    recorder = Recorder()
    follower.subscribe(recorder)  # before the follower starts: it is told when following begins
    follower.start()
    wait_for(lambda: ("second", "exited") in recorder.told)
    follower.unsubscribe(recorder)
    follower.stop()
    assert recorder.told == [
        ("following",),
        ("first", "started"),
        ("first", "oom-killed"),
        ("lost",),
        ("following",),
        ("second", "oom-killed"),
        ("second", "exited"),
    ]
    assert follower.was_killed("first")
    assert follower.was_killed("second")
    assert api.calls[1]["since"] == 10, "the second stream must start where the first broke"
    assert api.calls[0]["filters"]["label"] == ["owner=me"]
    assert set(api.calls[0]["filters"]["event"]) == {"start", "die", "oom", "destroy"}
    follower.forget("first")
    assert not follower.was_killed("first")


def test_a_watcher_that_comes_later_is_told_the_follower_already_follows() -> None:
    api = BreakingEvents()
    api.calls.append({})  # skip the breaking stream
    follower = DockerEvents(api, "owner=me")
    follower.start()
    wait_for(lambda: follower.was_killed("second"))
    recorder, stop = Recorder(), threading.Event()
    watching = threading.Thread(target=follower.watch, args=(recorder, stop))
    watching.start()
    wait_for(lambda: recorder.told == [("following",)])
    follower.report("third", VmChange.OOM_KILLED)  # what the cgroup watch saw
    stop.set()
    watching.join()
    follower.report("fourth", VmChange.OOM_KILLED)  # nobody watches any more
    follower.stop()
    assert recorder.told == [("following",), ("third", "oom-killed")]


class StreamOf:
    """An events API whose stream gives ``events``, then stays open."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self._given = events
        self.calls: list[dict[str, Any]] = []

    def events(self, **kwargs: Any) -> QuietStream:
        self.calls.append(kwargs)
        return QuietStream(self._given)


def test_image_events_name_the_image_changed_and_the_stream_takes_them_all() -> None:
    image_id = "sha256:" + "a" * 64
    committed = "sha256:" + "b" * 64
    api = StreamOf(
        [
            {"status": "pull", "id": "127.0.0.1:5000/app:1", "Type": "image", "time": 1},
            {"Action": "tag", "Actor": {"ID": image_id}, "Type": "image", "time": 2},
            {"status": "untag", "id": image_id, "Type": "image", "time": 3},
            {"status": "save", "id": image_id, "Type": "image", "time": 4},  # changes nothing
            {"status": "delete", "id": image_id, "Type": "image", "time": 5},
            {"status": "load", "id": image_id, "Type": "image", "time": 6},
            {  # docker commit: the container's event names the image made
                "Action": "commit",
                "Actor": {"ID": "c" * 64, "Attributes": {"imageID": committed}},
                "Type": "container",
                "time": 7,
            },
        ]
    )
    follower = DockerImageEvents(api)
    recorder = Recorder()
    follower.subscribe(recorder)
    follower.start()
    wait_for(lambda: (committed, "added") in recorder.told)
    follower.stop()
    assert recorder.told == [
        ("following",),
        ("127.0.0.1:5000/app:1", "added"),
        (image_id, "tagged"),
        (image_id, "untagged"),
        (image_id, "removed"),
        (image_id, "added"),
        (committed, "added"),
    ]
    assert api.calls[0]["filters"] == {
        "type": ["image", "container"],
        "event": ["pull", "import", "load", "tag", "untag", "delete", "commit"],
    }
