"""Multi-container pods: listing a pod's containers and their stats.

The kubelet finds a pod's containers by filtering on the pod sandbox id; the answer must be
exactly that pod's containers, no more (a neighbour pod's) and no fewer.
"""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.factories import Container, ContainerFactory, Pod, PodFactory
from harness.lookup import container_ids
from harness.waiting import wait_for_exit


def pod_with_two(
    make_pod: PodFactory, make_container: ContainerFactory
) -> tuple[Pod, Container, Container]:
    pod = make_pod("listed")
    return (
        pod,
        make_container(pod, "first", labels={"role": "first"}),
        make_container(pod, "second", labels={"role": "second"}),
    )


@pytest.mark.feature("multi.list.by-pod", shape="multi")
def test_listing_by_pod_returns_exactly_its_containers(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod, first, second = pod_with_two(make_pod, make_container)
    neighbour, other_first, other_second = pod_with_two(make_pod, make_container)
    items = cri.list_containers(api.ContainerFilter(pod_sandbox_id=pod.id))
    assert {item.id for item in items} == {first.id, second.id}
    assert {item.pod_sandbox_id for item in items} == {pod.id}
    assert {item.metadata.name for item in items} == {"first", "second"}
    assert container_ids(cri, pod_sandbox_id=neighbour.id) == {other_first.id, other_second.id}


@pytest.mark.feature("multi.list.by-pod-and-label", shape="multi")
def test_listing_by_pod_and_label_returns_the_one_match(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod, _, second = pod_with_two(make_pod, make_container)
    pod_with_two(make_pod, make_container)
    assert container_ids(cri, pod_sandbox_id=pod.id, label_selector={"role": "second"}) == {
        second.id
    }


@pytest.mark.feature("multi.list.by-pod-and-state", shape="multi")
def test_listing_by_pod_and_state_separates_running_from_exited(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("states")
    running = make_container(pod, "running")
    exited = make_container(pod, "exited", command=["true"])
    created = make_container(pod, "created", start=False)
    wait_for_exit(cri, exited.id)
    for state, container in (
        (api.CONTAINER_RUNNING, running),
        (api.CONTAINER_EXITED, exited),
        (api.CONTAINER_CREATED, created),
    ):
        wanted = api.ContainerStateValue(state=state)
        assert container_ids(cri, pod_sandbox_id=pod.id, state=wanted) == {container.id}


@pytest.mark.feature("multi.list.stats-by-pod", shape="multi")
def test_listing_stats_by_pod_returns_exactly_its_containers(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod, first, second = pod_with_two(make_pod, make_container)
    pod_with_two(make_pod, make_container)
    stats = cri.list_container_stats(api.ContainerStatsFilter(pod_sandbox_id=pod.id))
    assert {item.attributes.id for item in stats} == {first.id, second.id}
    names = {item.attributes.id: item.attributes.metadata.name for item in stats}
    assert names == {first.id: "first", second.id: "second"}
