"""Pod sandboxes: run, status, stop, remove, runtime handlers and the log directory."""

from __future__ import annotations

import re
import time
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.expect import refused
from harness.factories import ContainerFactory, Pod, PodFactory, RunContext
from harness.lookup import unknown_id
from harness.verbose_info import assert_json_values
from harness.waiting import wait_for_exit, wait_until

# A CRI log line: <RFC 3339 time> <stream> <P(artial)|F(ull)> <text>
LOG_LINE = re.compile(r"(\S+) (stdout|stderr) ([PF]) (.*)")


def pod_ids(pods: list[api.PodSandbox]) -> set[str]:
    return {pod.id for pod in pods}


@pytest.mark.feature("pod.lifecycle")
def test_a_new_pod_is_ready(cri: CriClient, make_pod: PodFactory) -> None:
    pod = make_pod()
    status = cri.pod_status(pod.id).status
    assert status.id == pod.id
    assert status.state == api.SANDBOX_READY
    listed = {item.id: item.state for item in cri.list_pods()}
    assert listed.get(pod.id) == api.SANDBOX_READY, "the new pod is not listed as ready"


@pytest.mark.feature("pod.status.metadata")
def test_pod_status_returns_the_metadata_labels_and_annotations_given(
    cri: CriClient, make_pod: PodFactory
) -> None:
    pod = make_pod(
        "meta",
        attempt=3,
        labels={"app": "conformance", "tier": "one"},
        annotations={"note": "a value with spaces", "empty": ""},
    )
    status = cri.pod_status(pod.id).status
    assert status.metadata == pod.config.metadata
    assert dict(status.labels) == dict(pod.config.labels)
    assert dict(status.annotations) == dict(pod.config.annotations)


@pytest.mark.feature("pod.status.created-at")
def test_pod_status_created_at_is_the_creation_time_in_nanoseconds(
    cri: CriClient, make_pod: PodFactory
) -> None:
    before = time.time_ns()
    pod = make_pod()
    after = time.time_ns()
    created_at = cri.pod_status(pod.id).status.created_at
    assert before - 5 * 10**9 <= created_at <= after + 5 * 10**9, (
        f"created_at {created_at} is not within 5s of the RunPodSandbox call [{before}, {after}]"
    )


@pytest.mark.feature("pod.stop")
def test_a_stopped_pod_is_not_ready(cri: CriClient, make_pod: PodFactory) -> None:
    pod = make_pod()
    cri.stop_pod(pod.id)
    assert cri.pod_status(pod.id).status.state == api.SANDBOX_NOTREADY


@pytest.mark.feature("pod.remove")
def test_a_removed_pod_is_gone_from_status_and_list(cri: CriClient, make_pod: PodFactory) -> None:
    pod = make_pod()
    cri.stop_pod(pod.id)
    cri.remove_pod(pod.id)
    assert pod.id not in pod_ids(cri.list_pods())
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.pod_status(pod.id)


@pytest.mark.feature("pod.status.not-found")
def test_status_of_an_unknown_pod_is_not_found(cri: CriClient) -> None:
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.pod_status(unknown_id())


@pytest.mark.feature("pod.status.verbose")
def test_verbose_pod_status_carries_json_info_and_plain_status_does_not(
    cri: CriClient, shared_pod: Pod
) -> None:
    info = cri.pod_status(shared_pod.id, verbose=True).info
    assert info, "PodSandboxStatus(verbose=true) returned no info"
    assert_json_values("PodSandboxStatus", info)
    assert not cri.pod_status(shared_pod.id).info, (
        "PodSandboxStatus(verbose=false) must not return info"
    )


@pytest.mark.feature("pod.runtime-handler.reported")
def test_pod_status_and_list_report_the_runtime_handler_used(
    cri: CriClient, shared_pod: Pod, run_context: RunContext
) -> None:
    assert cri.pod_status(shared_pod.id).status.runtime_handler == run_context.runtime_handler
    (entry,) = cri.list_pods(api.PodSandboxFilter(id=shared_pod.id))
    assert entry.runtime_handler == run_context.runtime_handler


@pytest.mark.feature("pod.runtime-handler.unknown")
def test_a_pod_with_an_unknown_runtime_handler_is_refused_and_leaves_nothing(
    cri: CriClient, make_pod: PodFactory
) -> None:
    config = make_pod.config()
    with refused():
        make_pod.run(config, runtime_handler="cri-conformance-no-such-handler")
    names = {pod.metadata.name for pod in cri.list_pods()}
    assert config.metadata.name not in names, "the refused pod is listed"


@pytest.mark.feature("pod.stop.containers")
def test_stopping_a_pod_stops_its_running_container(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod()
    container = make_container(pod)
    cri.stop_pod(pod.id)
    assert wait_for_exit(cri, container.id).state == api.CONTAINER_EXITED


@pytest.mark.feature("pod.remove.running")
def test_removing_a_ready_pod_removes_it_and_its_running_container(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod()
    container = make_container(pod)
    cri.remove_pod(pod.id)
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.pod_status(pod.id)
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.container_status(container.id)
    listed = {item.id for item in cri.list_containers(api.ContainerFilter(pod_sandbox_id=pod.id))}
    assert not listed, f"containers of the removed pod are still listed: {listed}"


@pytest.mark.feature("pod.log-directory")
def test_container_output_is_logged_under_the_pod_log_directory(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    expected_path = Path(shared_pod.config.log_directory) / "app" / "0.log"
    expected_path.parent.mkdir(parents=True, exist_ok=True)  # the kubelet makes it, not the runtime
    container = make_container(
        shared_pod, command=["sh", "-c", "echo to-stdout; echo to-stderr >&2"], log_path="app/0.log"
    )
    wait_for_exit(cri, container.id)
    assert cri.container_status(container.id).status.log_path == str(expected_path)
    lines = wait_until(
        lambda: log_lines(expected_path),
        lambda found: len(found) >= 2,
        what=f"two log lines in {expected_path}",
    )
    parsed = [LOG_LINE.fullmatch(line) for line in lines]
    assert all(parsed), f"lines not in the CRI log format: {lines}"
    entries = {(match.group(2), match.group(4)) for match in parsed if match}
    assert entries == {("stdout", "to-stdout"), ("stderr", "to-stderr")}


def log_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
