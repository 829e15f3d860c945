"""The ownership rules: what a test made is removed, what the run did not make is never touched."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from cri_api.v1 import api_pb2 as api

from harness.builders import container_config, pod_config
from harness.client import CallFailed
from harness.resources import RUN_LABEL, TEST_ANNOTATION, ResourceTracker, sweep


@dataclass
class RecordingRuntime:
    """Just enough of a runtime to watch the cleanup logic; NOT_FOUND for unknown ids."""

    pods: dict[str, api.PodSandbox] = field(default_factory=dict)
    containers: dict[str, api.Container] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)

    def _known(self, rpc: str, table: dict[str, object], object_id: str) -> None:
        self.calls.append(f"{rpc} {object_id}")
        if object_id in self.broken:
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

    def list_pods(self, filter: api.PodSandboxFilter) -> list[api.PodSandbox]:
        wanted = dict(filter.label_selector)
        return [p for p in self.pods.values() if wanted.items() <= dict(p.labels).items()]

    def list_containers(self, filter: api.ContainerFilter) -> list[api.Container]:
        wanted = dict(filter.label_selector)
        return [c for c in self.containers.values() if wanted.items() <= dict(c.labels).items()]

    def add_pod(self, pod_id: str, labels: dict[str, str], test: str = "") -> None:
        self.pods[pod_id] = api.PodSandbox(
            id=pod_id,
            metadata=api.PodSandboxMetadata(name=f"name-{pod_id}"),
            labels=labels,
            annotations={TEST_ANNOTATION: test} if test else {},
        )

    def add_container(self, container_id: str, labels: dict[str, str]) -> None:
        self.containers[container_id] = api.Container(
            id=container_id,
            metadata=api.ContainerMetadata(name=f"name-{container_id}"),
            labels=labels,
        )


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
    runtime.add_pod("p1", {})
    runtime.add_container("c1", {})
    runtime.add_container("c2", {})
    tracker = ResourceTracker(runtime)  # type: ignore[arg-type]
    tracker.add_pod("p1")
    tracker.add_container("c1")
    tracker.add_container("c2")
    assert tracker.cleanup() == []
    assert runtime.calls == [
        "StopContainer c2",
        "RemoveContainer c2",
        "StopContainer c1",
        "RemoveContainer c1",
        "StopPodSandbox p1",
        "RemovePodSandbox p1",
    ]
    assert not runtime.pods
    assert not runtime.containers


def test_objects_the_test_already_removed_are_not_an_error() -> None:
    runtime = RecordingRuntime()
    tracker = ResourceTracker(runtime)  # type: ignore[arg-type]
    tracker.add_pod("gone")
    assert tracker.cleanup() == []


def test_a_failing_removal_is_reported_and_the_rest_still_removed() -> None:
    runtime = RecordingRuntime(broken={"c1"})
    runtime.add_pod("p1", {})
    runtime.add_container("c1", {})
    tracker = ResourceTracker(runtime)  # type: ignore[arg-type]
    tracker.add_container("c1")
    tracker.add_pod("p1")
    errors = tracker.cleanup()
    assert len(errors) == 2
    assert all("INTERNAL" in error for error in errors)
    assert "p1" not in runtime.pods


def test_the_sweep_removes_only_this_runs_objects_and_reports_each() -> None:
    runtime = RecordingRuntime()
    runtime.add_pod("mine", {RUN_LABEL: "run-1"}, test="suites/x.py::t")
    runtime.add_container("my-container", {RUN_LABEL: "run-1"})
    runtime.add_pod("other-run", {RUN_LABEL: "run-2"})
    runtime.add_pod("unlabelled", {})
    leaks = sweep(runtime, "run-1")  # type: ignore[arg-type]
    assert sorted((leak.kind, leak.id, leak.removed) for leak in leaks) == [
        ("container", "my-container", True),
        ("pod", "mine", True),
    ]
    assert next(leak for leak in leaks if leak.id == "mine").test == "suites/x.py::t"
    assert set(runtime.pods) == {"other-run", "unlabelled"}
    touched = {call.split()[1] for call in runtime.calls}
    assert touched == {"mine", "my-container"}


def test_a_leak_that_cannot_be_removed_says_why() -> None:
    runtime = RecordingRuntime(broken={"stuck"})
    runtime.add_pod("stuck", {RUN_LABEL: "run-1"})
    [leak] = sweep(runtime, "run-1")  # type: ignore[arg-type]
    assert not leak.removed
    assert "disk on fire" in leak.describe()
