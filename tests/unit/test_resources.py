"""The ownership rules: what a test made is removed, what the run did not make is never touched,
whatever a list or create call of the runtime said."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness.builders import container_config, pod_config
from harness.client import CallFailed, EndpointUnavailable
from harness.factories import ImagePuller
from harness.ownership import RUN_LABEL, TEST_ANNOTATION, Foreign, LeftAlone, RunOwnership
from harness.properties.lab import lab
from harness.properties.specs import Owner
from harness.pytest_plugin.sweep_report import SweepReport
from harness.removal_queue import RemovalQueue
from harness.resources import Cleanup, Removal, ResourceTracker, sweep

RUN = RunOwnership("run-1")
MINE = {RUN_LABEL: "run-1"}
DESTRUCTIVE = ("StopContainer", "RemoveContainer", "StopPodSandbox", "RemovePodSandbox")


@dataclass
class RecordingRuntime:
    """Just enough of a runtime to watch the cleanup logic; NOT_FOUND for unknown ids.

    It can be broken the ways that matter here: list calls that ignore their filter, status
    answers that say other labels than the object has, list calls that fail.
    """

    pods: dict[str, api.PodSandbox] = field(default_factory=dict)
    containers: dict[str, api.Container] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)
    ignores_filters: bool = False
    status_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    list_error: Exception | None = None
    pods_take_their_containers: bool = False  # RemovePodSandbox removes the pod's containers
    pod_of: dict[str, str] = field(default_factory=dict)

    def _known(self, rpc: str, table: Mapping[str, object], object_id: str) -> None:
        self.calls.append(f"{rpc} {object_id}")
        if rpc in DESTRUCTIVE and object_id in self.broken:
            raise CallFailed(rpc, grpc.StatusCode.INTERNAL, "disk on fire")
        if object_id not in table:
            raise CallFailed(rpc, grpc.StatusCode.NOT_FOUND, f"{object_id} not found")

    def stop_container(self, container_id: str, timeout: int = 0) -> None:
        self._known("StopContainer", self.containers, container_id)

    def remove_container(self, container_id: str) -> None:
        self._known("RemoveContainer", self.containers, container_id)
        del self.containers[container_id]

    def stop_pod(self, pod_id: str) -> None:
        self._known("StopPodSandbox", self.pods, pod_id)

    def remove_pod(self, pod_id: str) -> None:
        self._known("RemovePodSandbox", self.pods, pod_id)
        del self.pods[pod_id]
        if self.pods_take_their_containers:
            for container_id in [c for c, pod in self.pod_of.items() if pod == pod_id]:
                del self.containers[container_id], self.pod_of[container_id]

    def pod_status(self, pod_id: str) -> api.PodSandboxStatusResponse:
        self._known("PodSandboxStatus", self.pods, pod_id)
        pod = self.pods[pod_id]
        labels = self.status_labels.get(pod_id, dict(pod.labels))
        status = api.PodSandboxStatus(id=pod_id, metadata=pod.metadata, labels=labels)
        return api.PodSandboxStatusResponse(status=status)

    def container_status(self, container_id: str) -> api.ContainerStatusResponse:
        self._known("ContainerStatus", self.containers, container_id)
        container = self.containers[container_id]
        labels = self.status_labels.get(container_id, dict(container.labels))
        status = api.ContainerStatus(id=container_id, metadata=container.metadata, labels=labels)
        return api.ContainerStatusResponse(status=status)

    def _matching(self, found: list[Any], wanted: dict[str, str]) -> list[Any]:
        if self.list_error is not None:
            raise self.list_error
        if self.ignores_filters:
            return found
        return [item for item in found if wanted.items() <= dict(item.labels).items()]

    def list_pods(self, filter: api.PodSandboxFilter) -> list[api.PodSandbox]:
        return self._matching(list(self.pods.values()), dict(filter.label_selector))

    def list_containers(self, filter: api.ContainerFilter) -> list[api.Container]:
        return self._matching(list(self.containers.values()), dict(filter.label_selector))

    def add_pod(self, pod_id: str, labels: dict[str, str], test: str = "") -> None:
        self.pods[pod_id] = api.PodSandbox(
            id=pod_id,
            metadata=api.PodSandboxMetadata(name=f"name-{pod_id}"),
            labels=labels,
            annotations={TEST_ANNOTATION: test} if test else {},
        )

    def add_container(self, container_id: str, labels: dict[str, str], pod: str = "") -> None:
        self.pod_of[container_id] = pod
        self.containers[container_id] = api.Container(
            id=container_id,
            metadata=api.ContainerMetadata(name=f"name-{container_id}"),
            labels=labels,
        )

    def touched(self) -> set[str]:
        """The ids the harness stopped or removed (or tried to)."""
        return {call.split()[1] for call in self.calls if call.split()[0] in DESTRUCTIVE}


class Breakage(TypedDict, total=False):
    """The ways a RecordingRuntime can be broken (its fields of that name)."""

    broken: set[str]
    ignores_filters: bool
    status_labels: dict[str, dict[str, str]]
    list_error: Exception | None
    pods_take_their_containers: bool


def a_node_with_foreign_objects(**options: Unpack[Breakage]) -> RecordingRuntime:
    """This run's leaked pod and container, next to another run's pod and production objects."""
    runtime = RecordingRuntime(**options)
    runtime.add_pod("mine", MINE, test="suites/x.py::t")
    runtime.add_container("my-container", MINE)
    runtime.add_pod("other-run", {RUN_LABEL: "run-2"})
    runtime.add_pod("production", {"app": "shop"})
    runtime.add_container("production-container", {})
    return runtime


def tracker_of(runtime: RecordingRuntime) -> ResourceTracker:
    return ResourceTracker(runtime, RUN)  # type: ignore[arg-type]  # a fake CriClient


def test_configs_carry_the_run_label_and_keep_the_callers_own() -> None:
    config = pod_config(
        "web", run_id="run-1", test="t::x", labels={"app": "web"}, annotations={"a": "b"}
    )
    assert dict(config.labels) == {"app": "web", RUN_LABEL: "run-1"}
    assert dict(config.annotations) == {"a": "b", TEST_ANNOTATION: "t::x"}
    container = container_config("c", "img", run_id="run-1", env={"K": "V"})
    assert dict(container.labels) == {RUN_LABEL: "run-1"}
    assert [(kv.key, kv.value) for kv in container.envs] == [("K", "V")]


def test_the_tracker_removes_containers_before_pods_in_reverse_order() -> None:
    runtime = RecordingRuntime()
    runtime.add_pod("p1", MINE)
    runtime.add_container("c1", MINE)
    runtime.add_container("c2", MINE)
    tracker = tracker_of(runtime)
    tracker.add_pod("p1")
    tracker.add_container("c1")
    tracker.add_container("c2")
    outcome = tracker.cleanup()
    assert outcome.errors == []
    assert outcome.left_alone == []
    assert runtime.calls == [
        "ContainerStatus c2",
        "StopContainer c2",
        "RemoveContainer c2",
        "ContainerStatus c1",
        "StopContainer c1",
        "RemoveContainer c1",
        "PodSandboxStatus p1",
        "StopPodSandbox p1",
        "RemovePodSandbox p1",
    ]
    assert not runtime.pods
    assert not runtime.containers


def test_containers_of_a_tracked_pod_go_with_it_after_their_status_is_read() -> None:
    runtime = RecordingRuntime(pods_take_their_containers=True)
    runtime.add_pod("p1", MINE)
    runtime.add_container("c1", MINE, pod="p1")
    runtime.add_container("elsewhere", MINE)
    tracker = tracker_of(runtime)
    tracker.add_pod("p1")
    tracker.add_container("c1", "p1")
    tracker.add_container("elsewhere", "a-pod-of-another-test")
    outcome = tracker.cleanup()
    assert (outcome.errors, outcome.left_alone) == ([], [])
    assert runtime.calls == [
        "ContainerStatus elsewhere",
        "StopContainer elsewhere",
        "RemoveContainer elsewhere",
        "ContainerStatus c1",
        "PodSandboxStatus p1",
        "StopPodSandbox p1",
        "RemovePodSandbox p1",
        "ContainerStatus c1",
    ]
    assert not runtime.pods
    assert not runtime.containers


def test_a_container_its_pod_removal_kept_is_removed_on_its_own() -> None:
    runtime = RecordingRuntime()
    runtime.add_pod("p1", MINE)
    runtime.add_container("c1", MINE, pod="p1")
    tracker = tracker_of(runtime)
    tracker.add_pod("p1")
    tracker.add_container("c1", "p1")
    assert tracker.cleanup().errors == []
    assert runtime.calls[-3:] == ["ContainerStatus c1", "StopContainer c1", "RemoveContainer c1"]
    assert not runtime.containers


def test_a_foreign_container_in_a_tracked_pod_is_left_alone_and_reported() -> None:
    """A runtime that answered CreateContainer with the id of a production container."""
    runtime = a_node_with_foreign_objects()
    tracker = tracker_of(runtime)
    tracker.add_pod("mine")
    tracker.add_container("production-container", "mine")
    outcome = tracker.cleanup()
    assert runtime.touched() == {"mine"}
    assert "production-container" in runtime.containers
    assert [(f.kind, f.id) for f in outcome.left_alone] == [("container", "production-container")]


def test_objects_the_test_already_removed_are_not_an_error() -> None:
    runtime = RecordingRuntime()
    tracker = tracker_of(runtime)
    tracker.add_pod("gone")
    tracker.add_container("gone-too")
    outcome = tracker.cleanup()
    assert (outcome.errors, outcome.left_alone) == ([], [])
    assert runtime.touched() == set()


def test_a_failing_removal_is_reported_and_the_rest_still_removed() -> None:
    runtime = RecordingRuntime(broken={"c1"})
    runtime.add_pod("p1", MINE)
    runtime.add_container("c1", MINE)
    tracker = tracker_of(runtime)
    tracker.add_container("c1")
    tracker.add_pod("p1")
    errors = tracker.cleanup().errors
    assert len(errors) == 2
    assert all("INTERNAL" in error for error in errors)
    assert "p1" not in runtime.pods


def test_a_tracked_id_whose_status_is_not_the_runs_is_left_alone_and_fails_the_test() -> None:
    """A runtime that answered RunPodSandbox with the id of a production pod."""
    runtime = a_node_with_foreign_objects()
    tracker = tracker_of(runtime)
    tracker.add_pod("production")
    tracker.add_container("production-container")
    tracker.add_pod("mine")
    outcome = tracker.cleanup()
    assert runtime.touched() == {"mine"}
    assert set(runtime.pods) == {"other-run", "production"}
    assert [(f.kind, f.id, f.name) for f in outcome.left_alone] == [
        ("container", "production-container", "name-production-container"),
        ("pod", "production", "name-production"),
    ]
    with pytest.raises(LeftAlone, match=r"pod name-production \(production\), without a"):
        outcome.settle()


def test_a_status_that_lies_about_labels_keeps_the_object_from_removal() -> None:
    """Listed with the run label (a filter-ignoring runtime), but its status says otherwise."""
    runtime = a_node_with_foreign_objects(status_labels={"mine": {"app": "shop"}})
    tracker = tracker_of(runtime)
    tracker.add_pod("mine")
    [foreign] = tracker.cleanup().left_alone
    assert foreign == Foreign("pod", "mine", "name-mine", None)
    report = sweep(runtime, RUN)  # type: ignore[arg-type]  # a fake CriClient
    assert "mine" in {foreign.id for foreign in report.left_alone}
    assert "mine" not in runtime.touched()
    assert "mine" in runtime.pods


def test_an_unreadable_status_leaves_the_object_in_place() -> None:
    runtime = RecordingRuntime()
    runtime.add_pod("p1", MINE)
    runtime.pod_status = _unavailable  # type: ignore[method-assign]  # the fake fails from here on
    tracker = tracker_of(runtime)
    tracker.add_pod("p1")
    [error] = tracker.cleanup().errors
    assert "p1: left in place, its owner unknown" in error
    assert runtime.touched() == set()


def _unavailable(pod_id: str) -> api.PodSandboxStatusResponse:
    raise EndpointUnavailable("the runtime went away")


def test_the_sweep_removes_only_this_runs_objects_and_reports_each() -> None:
    runtime = a_node_with_foreign_objects()
    report = sweep(runtime, RUN)  # type: ignore[arg-type]  # a fake CriClient
    assert sorted((leak.kind, leak.id, leak.removed) for leak in report.leaks) == [
        ("container", "my-container", True),
        ("pod", "mine", True),
    ]
    assert next(leak for leak in report.leaks if leak.id == "mine").test == "suites/x.py::t"
    assert report.left_alone == []
    assert set(runtime.pods) == {"other-run", "production"}
    assert runtime.touched() == {"mine", "my-container"}


def test_a_sweep_answered_with_every_object_on_the_node_touches_only_the_runs() -> None:
    """ListPodSandbox and ListContainers ignore the label selector."""
    runtime = a_node_with_foreign_objects(ignores_filters=True)
    report = sweep(runtime, RUN)  # type: ignore[arg-type]  # a fake CriClient
    assert runtime.touched() == {"mine", "my-container"}
    assert set(runtime.pods) == {"other-run", "production"}
    assert set(runtime.containers) == {"production-container"}
    assert sorted(leak.id for leak in report.leaks) == ["mine", "my-container"]
    assert sorted((f.kind, f.id, f.name, f.run_label) for f in report.left_alone) == [
        ("container", "production-container", "name-production-container", None),
        ("pod", "other-run", "name-other-run", "run-2"),
        ("pod", "production", "name-production", None),
    ]


def test_the_summary_names_every_object_left_alone_and_the_run_fails() -> None:
    runtime = a_node_with_foreign_objects(ignores_filters=True)
    report = SweepReport("run-1", sweep(runtime, RUN))  # type: ignore[arg-type]  # a fake CriClient
    terminal = RecordingTerminal()
    report.summarize(terminal)  # type: ignore[arg-type]  # a fake CriClient
    assert report.fails_run
    assert "cri-conformance SAFETY WARNING" in terminal.sections
    text = "\n".join(terminal.lines)
    assert "SAFETY WARNING" in text
    for expected in (
        "left alone: pod name-production (production), without a cri-conformance.io/run label",
        "left alone: pod name-other-run (other-run), labelled cri-conformance.io/run=run-2",
        "left alone: container name-production-container (production-container)",
    ):
        assert expected in text


def test_a_sweep_that_cannot_list_raises_and_fails_the_run(tmp_path: Path) -> None:
    runtime = a_node_with_foreign_objects(
        list_error=CallFailed("ListPodSandbox", grpc.StatusCode.INTERNAL, "index corrupt")
    )
    with pytest.raises(CallFailed, match="index corrupt"):
        sweep(runtime, RUN)  # type: ignore[arg-type]  # a fake CriClient
    assert runtime.touched() == set()
    report = SweepReport("run-1", error="ListPodSandbox failed with INTERNAL: index corrupt")
    assert report.fails_run
    terminal = RecordingTerminal()
    report.summarize(terminal)  # type: ignore[arg-type]  # a fake CriClient
    assert "the sweep could not list" in terminal.lines[0]
    assert "index corrupt" in terminal.lines[0]
    assert '"sweep_error": "ListPodSandbox failed' in report.write(tmp_path).read_text()


def test_a_leak_that_cannot_be_removed_says_why() -> None:
    runtime = RecordingRuntime(broken={"stuck"})
    runtime.add_pod("stuck", MINE)
    [leak] = sweep(runtime, RUN).leaks  # type: ignore[arg-type]  # a fake CriClient
    assert not leak.removed
    assert "disk on fire" in leak.describe()


def test_a_lab_given_a_foreign_id_fails_without_touching_it() -> None:
    runtime = a_node_with_foreign_objects()
    owner = Owner("run-1", "tests::lab", "/nonexistent/logs", "/nonexistent/volumes")
    with (
        pytest.raises(LeftAlone, match="production"),
        lab(runtime, ImagePuller(runtime), owner) as scope,  # type: ignore[arg-type]  # a fake CriClient
    ):
        scope.context.tracker.add_pod("production")
    assert runtime.touched() == set()


@dataclass
class RecordingTerminal:
    lines: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)

    def write_line(self, line: str, **markup: bool) -> None:
        self.lines.append(line)

    def section(self, title: str, **markup: bool) -> None:
        self.sections.append(title)


class RecordingLater:
    """A ``later`` that keeps the removals for the test to run when it chooses."""

    def __init__(self) -> None:
        self.removals: list[Removal] = []

    def run(self, removal: Removal) -> Cleanup:
        self.removals.append(removal)
        return Cleanup(errors=["from earlier removals"])


def test_with_later_every_status_is_read_before_the_test_ends_and_pods_go_afterwards() -> None:
    runtime = a_node_with_foreign_objects(pods_take_their_containers=True)
    runtime.add_container("c1", MINE, pod="mine")
    later = RecordingLater()
    tracker = ResourceTracker(runtime, RUN, later)  # type: ignore[arg-type]  # a fake CriClient
    tracker.add_pod("mine")
    tracker.add_pod("production")
    tracker.add_container("c1", "mine")
    outcome = tracker.cleanup()
    assert runtime.touched() == set()
    assert [(f.kind, f.id) for f in outcome.left_alone] == [("pod", "production")]
    assert outcome.errors == ["from earlier removals"]
    [removal] = later.removals
    assert removal(runtime) == Cleanup()  # type: ignore[arg-type]  # a fake CriClient
    assert runtime.touched() == {"mine"}
    assert "c1" not in runtime.containers
    assert set(runtime.pods) == {"other-run", "production"}


def test_with_later_containers_outside_its_pods_are_removed_before_the_test_ends() -> None:
    runtime = RecordingRuntime()
    runtime.add_container("in-a-shared-pod", MINE, pod="shared")
    later = RecordingLater()
    tracker = ResourceTracker(runtime, RUN, later)  # type: ignore[arg-type]  # a fake CriClient
    tracker.add_container("in-a-shared-pod", "shared")
    tracker.cleanup()
    assert runtime.touched() == {"in-a-shared-pod"}
    assert not runtime.containers


class ClosableClient:
    closed = False

    def close(self) -> None:
        self.closed = True


def test_the_removal_queue_reports_each_removal_once_and_drains_on_close() -> None:
    client = ClosableClient()
    queue = RemovalQueue(client, backlog=1)  # type: ignore[arg-type]  # a fake CriClient
    started = threading.Event()
    release = threading.Event()
    given = []

    def slow(used: object) -> Cleanup:
        given.append(used)
        started.set()
        release.wait(timeout=10)
        return Cleanup(errors=["slow removal failed"])

    def broken(used: object) -> Cleanup:
        raise CallFailed("StopPodSandbox", grpc.StatusCode.INTERNAL, "disk on fire")

    assert queue.run(slow) == Cleanup()
    started.wait(timeout=10)
    release.set()
    assert queue.run(broken).errors == ["slow removal failed"]  # waited for its slot
    [error] = queue.close().errors
    assert "disk on fire" in error
    assert given == [client]
    assert client.closed


def test_a_queued_removal_that_fails_names_the_test_whose_pods_it_concerns() -> None:
    queue = RemovalQueue(ClosableClient(), backlog=1)  # type: ignore[arg-type]  # a fake CriClient

    def failing(used: object) -> Cleanup:
        return Cleanup(errors=["remove pod 1234: busy"])

    def broken(used: object) -> Cleanup:
        raise CallFailed("StopPodSandbox", grpc.StatusCode.INTERNAL, "disk on fire")

    reported = queue.on_behalf_of("suites/test_a.py::test_one").run(failing)
    reported += queue.on_behalf_of("suites/test_a.py::test_two").run(broken)
    reported += queue.close()
    first, second = reported.errors
    assert first == "suites/test_a.py::test_one: remove pod 1234: busy"
    assert second.startswith("suites/test_a.py::test_two: removal failed:")
    assert "disk on fire" in second
