"""Container and pod sandbox stats: ContainerStats, ListContainerStats, PodSandboxStats,
ListPodSandboxStats.

Pods run under a cgroup parent of their own, as the kubelet runs them; one test checks a pod
without one. List queries are always filtered by something the test owns, since other tests
run at the same time.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.expect import refused
from harness.factories import Container, ContainerFactory, Pod, PodFactory
from harness.lookup import container_stats_ids, pod_stats_ids, unknown_id
from harness.pytest_plugin.container_fixtures import CgroupPodFactory
from harness.waiting import wait_until

CLOCK_SLACK_NS = 2 * 10**9
BUSY = ["sh", "-c", "while :; do :; done"]


def assert_recent(what: str, timestamp: int, since: int) -> None:
    now = time.time_ns()
    assert since - CLOCK_SLACK_NS <= timestamp <= now + CLOCK_SLACK_NS, (
        f"{what} timestamp {timestamp} is not between the test's start {since} and now {now}"
    )


def assert_usage(what: str, cpu: api.CpuUsage, memory: api.MemoryUsage, since: int) -> None:
    assert_recent(f"{what} cpu", cpu.timestamp, since)
    assert_recent(f"{what} memory", memory.timestamp, since)
    assert cpu.usage_core_nano_seconds.value > 0, f"{what} reports no CPU time used"
    assert memory.working_set_bytes.value > 0, f"{what} reports an empty memory working set"


def wait_for_cpu_growth(read: Callable[[], api.CpuUsage], what: str) -> None:
    """CPU time must grow by 0.1 s while a container burns CPU, with a later timestamp."""
    first = read()
    later = wait_until(
        read,
        lambda cpu: (
            cpu.usage_core_nano_seconds.value >= first.usage_core_nano_seconds.value + 10**8
        ),
        what=f"0.1s more CPU time in {what}",
    )
    assert later.timestamp > first.timestamp


def assert_attributes(stats: api.ContainerStats, container: Container) -> None:
    attributes = stats.attributes
    assert attributes.id == container.id
    assert attributes.metadata == container.config.metadata
    assert dict(attributes.labels) == dict(container.config.labels)
    assert dict(attributes.annotations) == dict(container.config.annotations)


@pytest.mark.feature("container.stats.container")
def test_container_stats_name_the_container_and_report_current_cpu_and_memory(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    since = time.time_ns()
    container = make_container(shared_pod, labels={"role": "measured"})
    stats = cri.container_stats(container.id)
    assert_attributes(stats, container)
    assert_usage("ContainerStats", stats.cpu, stats.memory, since)


@pytest.mark.feature("container.stats.cpu-grows")
def test_cpu_usage_grows_while_the_container_works(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, command=BUSY)
    wait_for_cpu_growth(
        lambda: cri.container_stats(container.id).cpu, "ContainerStats of a busy container"
    )


@pytest.mark.feature("container.stats.created")
def test_a_created_container_has_stats(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, start=False)
    assert_attributes(cri.container_stats(container.id), container)


@pytest.mark.feature("container.stats.not-found")
def test_stats_of_an_unknown_container_are_not_found(cri: CriClient) -> None:
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.container_stats(unknown_id())


@pytest.mark.feature("container.stats.list-filter-id")
def test_listing_container_stats_by_id_returns_that_container(
    cri: CriClient, shared_pod: Pod, shared_container: Container, make_container: ContainerFactory
) -> None:
    wanted = make_container(shared_pod)  # shared_container runs too, to be left out
    [stats] = cri.list_container_stats(api.ContainerStatsFilter(id=wanted.id))
    assert_attributes(stats, wanted)


@pytest.mark.feature("container.stats.list-filter-pod")
def test_listing_container_stats_by_pod_returns_that_pods_container(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    wanted, other = make_container(make_pod()), make_container(make_pod())
    assert container_stats_ids(cri, pod_sandbox_id=wanted.pod.id) == {wanted.id}
    assert container_stats_ids(cri, pod_sandbox_id=other.pod.id) == {other.id}


@pytest.mark.feature("container.stats.list-filter-label")
def test_listing_container_stats_by_labels_returns_exactly_the_matches(
    cri: CriClient, make_pod: PodFactory, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    group = {"cri-conformance.io/group": secrets.token_hex(6)}
    blue = make_container(shared_pod, labels={**group, "colour": "blue"})
    red = make_container(make_pod(), labels={**group, "colour": "red"})
    assert container_stats_ids(cri, label_selector=group) == {blue.id, red.id}
    assert container_stats_ids(cri, label_selector={**group, "colour": "blue"}) == {blue.id}
    assert container_stats_ids(cri, label_selector={**group, "colour": "green"}) == set()


@pytest.mark.feature("container.stats.pod")
def test_pod_stats_name_the_pod_and_report_its_usage_and_its_container(
    cri: CriClient, make_cgroup_pod: CgroupPodFactory, make_container: ContainerFactory
) -> None:
    since = time.time_ns()
    pod = make_cgroup_pod(labels={"role": "measured"})
    container = make_container(pod)
    stats = cri.pod_stats(pod.id)
    assert stats.attributes.id == pod.id
    assert stats.attributes.metadata == pod.config.metadata
    assert dict(stats.attributes.labels) == dict(pod.config.labels)
    assert dict(stats.attributes.annotations) == dict(pod.config.annotations)
    assert_usage("PodSandboxStats", stats.linux.cpu, stats.linux.memory, since)
    [inner] = stats.linux.containers
    assert_attributes(inner, container)


@pytest.mark.feature("container.stats.pod-cpu-grows")
def test_pod_cpu_usage_grows_while_its_container_works(
    cri: CriClient, make_cgroup_pod: CgroupPodFactory, make_container: ContainerFactory
) -> None:
    pod = make_cgroup_pod()
    make_container(pod, command=BUSY)
    wait_for_cpu_growth(
        lambda: cri.pod_stats(pod.id).linux.cpu,
        "PodSandboxStats of a pod with a busy container",
    )


@pytest.mark.feature("container.stats.pod-list-filter")
def test_listing_pod_stats_by_id_and_by_labels_returns_exactly_the_matches(
    cri: CriClient, make_cgroup_pod: CgroupPodFactory
) -> None:
    group = {"cri-conformance.io/group": secrets.token_hex(6)}
    blue = make_cgroup_pod(labels={**group, "colour": "blue"})
    red = make_cgroup_pod(labels={**group, "colour": "red"})
    assert pod_stats_ids(cri, id=blue.id) == {blue.id}
    assert pod_stats_ids(cri, label_selector=group) == {blue.id, red.id}
    assert pod_stats_ids(cri, label_selector={**group, "colour": "red"}) == {red.id}
    assert pod_stats_ids(cri, label_selector={**group, "colour": "green"}) == set()


@pytest.mark.feature("container.stats.pod-not-found")
def test_stats_of_an_unknown_pod_are_not_found(cri: CriClient) -> None:
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.pod_stats(unknown_id())


@pytest.mark.feature("container.stats.pod-without-cgroup-parent")
def test_a_pod_without_a_cgroup_parent_has_stats(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    since = time.time_ns()
    pod = make_pod()
    make_container(pod)
    stats = cri.pod_stats(pod.id)
    assert stats.attributes.id == pod.id
    assert_usage("PodSandboxStats", stats.linux.cpu, stats.linux.memory, since)
