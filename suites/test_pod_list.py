"""ListPodSandbox: what each entry carries, and the filters (id, state, labels; ANDed)."""

from __future__ import annotations

import secrets

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.factories import Pod, PodFactory
from harness.lookup import unknown_id

READY = api.PodSandboxStateValue(state=api.SANDBOX_READY)
NOT_READY = api.PodSandboxStateValue(state=api.SANDBOX_NOTREADY)


def listed_ids(cri: CriClient, **fields: object) -> set[str]:
    """The ids ListPodSandbox returns for a filter made of ``fields``."""
    pod_filter = api.PodSandboxFilter(**fields)  # type: ignore[arg-type]
    return {pod.id for pod in cri.list_pods(pod_filter)}


def unique_group() -> dict[str, str]:
    """A label no other test's pods carry, so a selector sees only this test's pods."""
    return {"group": f"group-{secrets.token_hex(4)}"}


@pytest.mark.feature("pod.list.fields")
def test_a_listed_pod_carries_what_status_reports(cri: CriClient, make_pod: PodFactory) -> None:
    pod = make_pod("listed", attempt=2, labels={"app": "list"}, annotations={"note": "x y"})
    (entry,) = cri.list_pods(api.PodSandboxFilter(id=pod.id))
    status = cri.pod_status(pod.id).status
    assert entry.id == pod.id
    assert entry.metadata == pod.config.metadata
    assert dict(entry.labels) == dict(pod.config.labels)
    assert dict(entry.annotations) == dict(pod.config.annotations)
    assert entry.state == api.SANDBOX_READY
    assert entry.created_at == status.created_at > 0
    assert entry.runtime_handler == status.runtime_handler


@pytest.mark.feature("pod.list.all-states")
def test_list_pods_without_filter_returns_ready_and_stopped_pods(
    cri: CriClient, make_pod: PodFactory, shared_pod: Pod
) -> None:
    ready, stopped = shared_pod, make_pod()
    cri.stop_pod(stopped.id)
    assert {ready.id, stopped.id} <= listed_ids(cri)


@pytest.mark.feature("pod.list.filter-id")
def test_list_pods_filtered_by_id_returns_only_that_pod(
    cri: CriClient, make_pod: PodFactory, shared_pod: Pod
) -> None:
    wanted, other = make_pod(), shared_pod
    assert listed_ids(cri, id=wanted.id) == {wanted.id}
    assert other.id in listed_ids(cri)


@pytest.mark.feature("pod.list.filter-id-prefix")
def test_list_pods_filtered_by_a_unique_id_prefix_returns_that_pod(
    cri: CriClient, shared_pod: Pod
) -> None:
    assert listed_ids(cri, id=shared_pod.id[:12]) == {shared_pod.id}, (
        "ListPodSandbox with the first 12 characters of an id (as crictl passes them) "
        "did not return that pod"
    )


@pytest.mark.feature("pod.list.filter-unknown-id")
def test_list_pods_filtered_by_an_unknown_id_is_empty_not_an_error(
    cri: CriClient, shared_pod: Pod
) -> None:
    # shared_pod: a pod the filter must leave out, so a runtime that ignores it is caught
    assert listed_ids(cri, id=unknown_id()) == set()


@pytest.mark.feature("pod.list.filter-label")
def test_list_pods_filtered_by_label_selector_returns_exactly_the_matches(
    cri: CriClient, make_pod: PodFactory
) -> None:
    group = unique_group()
    blue = make_pod(labels={**group, "colour": "blue"})
    red = make_pod(labels={**group, "colour": "red"})
    assert listed_ids(cri, label_selector=group) == {blue.id, red.id}
    assert listed_ids(cri, label_selector={**group, "colour": "red"}) == {red.id}
    assert listed_ids(cri, label_selector={**group, "colour": "green"}) == set()


@pytest.mark.feature("pod.list.filter-state")
def test_list_pods_filtered_by_state_separates_ready_from_stopped(
    cri: CriClient, make_pod: PodFactory
) -> None:
    group = unique_group()
    ready, stopped = make_pod(labels=group), make_pod(labels=group)
    cri.stop_pod(stopped.id)
    assert listed_ids(cri, label_selector=group, state=READY) == {ready.id}
    assert listed_ids(cri, label_selector=group, state=NOT_READY) == {stopped.id}


@pytest.mark.feature("pod.list.filter-combined")
def test_list_pod_filters_are_combined_with_and(cri: CriClient, make_pod: PodFactory) -> None:
    group = unique_group()
    ready, stopped = make_pod(labels=group), make_pod(labels=group)
    cri.stop_pod(stopped.id)
    assert listed_ids(cri, id=ready.id, state=READY, label_selector=group) == {ready.id}
    assert listed_ids(cri, id=ready.id, state=NOT_READY) == set()
    assert listed_ids(cri, id=stopped.id, label_selector={**group, "other": "x"}) == set()
    assert listed_ids(cri, id=stopped.id, state=NOT_READY, label_selector=group) == {stopped.id}
