"""ListContainers and its filters: id, pod, state, labels, and their combinations.

Other tests (and other xdist workers) create containers at the same time, so every query is
scoped by something this test owns: an id, a pod, or a label value nobody else uses.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.factories import Container, ContainerFactory, Pod, PodFactory
from harness.lookup import container_ids, unknown_id

RUNNING = api.ContainerStateValue(state=api.CONTAINER_RUNNING)
EXITED = api.ContainerStateValue(state=api.CONTAINER_EXITED)
CREATED = api.ContainerStateValue(state=api.CONTAINER_CREATED)


def group_label() -> dict[str, str]:
    return {"cri-conformance.io/group": secrets.token_hex(6)}


def one_per_pod(
    make_pod: PodFactory, make_container: ContainerFactory, count: int, **fields: Any
) -> list[Container]:
    return [make_container(make_pod(), **fields) for _ in range(count)]


@pytest.mark.feature("container.list.fields")
def test_a_listed_container_carries_its_pod_metadata_image_state_and_creation_time(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, name="listed")
    status = cri.container_status(container.id).status
    [listed] = cri.list_containers(api.ContainerFilter(id=container.id))
    assert listed.pod_sandbox_id == shared_pod.id
    assert listed.metadata == container.config.metadata
    assert listed.image.image == status.image.image
    assert listed.state == api.CONTAINER_RUNNING
    assert listed.created_at == status.created_at


@pytest.mark.feature("container.list.filter-id")
def test_filtering_by_id_returns_only_that_container(
    cri: CriClient, shared_pod: Pod, shared_container: Container, make_container: ContainerFactory
) -> None:
    wanted = make_container(shared_pod, start=False)
    assert container_ids(cri, id=wanted.id) == {wanted.id}
    assert shared_container.id in container_ids(cri)
    assert container_ids(cri, id=unknown_id()) == set(), "an unknown id must match nothing"


@pytest.mark.feature("container.list.filter-pod")
def test_filtering_by_pod_returns_only_that_pods_container(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    wanted, other = one_per_pod(make_pod, make_container, 2, start=False)
    assert container_ids(cri, pod_sandbox_id=wanted.pod.id) == {wanted.id}
    assert container_ids(cri, pod_sandbox_id=other.pod.id) == {other.id}


@pytest.mark.feature("container.list.filter-state")
def test_filtering_by_state_separates_created_running_and_exited(
    cri: CriClient, make_pod: PodFactory, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    group = group_label()
    created = make_container(shared_pod, labels=group, start=False)
    running = make_container(make_pod(), labels=group)
    exited = make_container(make_pod(), labels=group)
    cri.stop_container(exited.id, timeout=0)
    assert container_ids(cri, label_selector=group, state=CREATED) == {created.id}
    assert container_ids(cri, label_selector=group, state=RUNNING) == {running.id}
    assert container_ids(cri, label_selector=group, state=EXITED) == {exited.id}


@pytest.mark.feature("container.list.filter-label")
def test_filtering_by_labels_returns_exactly_the_containers_with_all_of_them(
    cri: CriClient, make_pod: PodFactory, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    group = group_label()
    blue = make_container(shared_pod, labels={**group, "colour": "blue"}, start=False)
    red = make_container(make_pod(), labels={**group, "colour": "red"}, start=False)
    assert container_ids(cri, label_selector=group) == {blue.id, red.id}
    assert container_ids(cri, label_selector={**group, "colour": "red"}) == {red.id}
    assert container_ids(cri, label_selector={**group, "colour": "green"}) == set()


@pytest.mark.feature("container.list.filter-combined")
def test_filters_combine_as_a_logical_and(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    group = group_label()
    running, exited = one_per_pod(make_pod, make_container, 2, labels=group)
    cri.stop_container(exited.id, timeout=0)
    assert container_ids(cri, pod_sandbox_id=running.pod.id, state=RUNNING) == {running.id}
    assert container_ids(cri, pod_sandbox_id=exited.pod.id, state=RUNNING) == set()
    both = {"pod_sandbox_id": exited.pod.id, "label_selector": group, "state": EXITED}
    assert container_ids(cri, **both) == {exited.id}
    assert container_ids(cri, id=running.id, label_selector=group, state=EXITED) == set()
