"""Pod sandboxes: run, status, list and its filters, stop, remove."""

from __future__ import annotations

import ipaddress
import time

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.expect import refused
from harness.factories import PodFactory


def pod_ids(pods: list[api.PodSandbox]) -> set[str]:
    return {pod.id for pod in pods}


@pytest.mark.feature("pod.lifecycle")
def test_a_new_pod_is_ready(cri: CriClient, make_pod: PodFactory) -> None:
    pod = make_pod()
    status = cri.pod_status(pod.id).status
    assert status.id == pod.id
    assert status.state == api.SANDBOX_READY


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


@pytest.mark.feature("pod.status.network")
def test_pod_status_reports_a_valid_pod_ip(cri: CriClient, make_pod: PodFactory) -> None:
    pod = make_pod()
    network = cri.pod_status(pod.id).status.network
    address = ipaddress.ip_address(network.ip)
    assert not address.is_unspecified


@pytest.mark.feature("pod.list.filter-id")
def test_list_pods_filtered_by_id_returns_only_that_pod(
    cri: CriClient, make_pod: PodFactory
) -> None:
    wanted, other = make_pod(), make_pod()
    listed = cri.list_pods(cri_filter(id=wanted.id))
    assert pod_ids(listed) == {wanted.id}
    assert other.id in pod_ids(cri.list_pods())


@pytest.mark.feature("pod.list.filter-label")
def test_list_pods_filtered_by_label_selector_returns_exactly_the_matches(
    cri: CriClient, make_pod: PodFactory
) -> None:
    group = f"group-{time.time_ns()}"
    blue = make_pod(labels={"group": group, "colour": "blue"})
    red = make_pod(labels={"group": group, "colour": "red"})
    assert pod_ids(cri.list_pods(cri_filter(label_selector={"group": group}))) == {blue.id, red.id}
    selector = {"group": group, "colour": "red"}
    assert pod_ids(cri.list_pods(cri_filter(label_selector=selector))) == {red.id}


@pytest.mark.feature("pod.list.filter-state")
def test_list_pods_filtered_by_state_separates_ready_from_stopped(
    cri: CriClient, make_pod: PodFactory
) -> None:
    group = f"group-{time.time_ns()}"
    ready = make_pod(labels={"group": group})
    stopped = make_pod(labels={"group": group})
    cri.stop_pod(stopped.id)
    selector = {"group": group}
    ready_state = api.PodSandboxStateValue(state=api.SANDBOX_READY)
    not_ready_state = api.PodSandboxStateValue(state=api.SANDBOX_NOTREADY)
    assert pod_ids(cri.list_pods(cri_filter(label_selector=selector, state=ready_state))) == {
        ready.id
    }
    assert pod_ids(cri.list_pods(cri_filter(label_selector=selector, state=not_ready_state))) == {
        stopped.id
    }


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
        cri.pod_status("0" * 64)


def cri_filter(**fields: object) -> api.PodSandboxFilter:
    return api.PodSandboxFilter(**fields)  # type: ignore[arg-type]
