"""Pod metrics: ListMetricDescriptors and ListPodSandboxMetrics (the CRI stats of KEP 2371).

The kubelet asks for descriptors once and then expects every metric it is sent to be
described, with as many label values as the descriptor has label keys. It republishes them
under their names, so the values must mean what cAdvisor's metrics of those names mean: CPU
seconds the container used, bytes of memory it holds now.
"""

from __future__ import annotations

import time

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.factories import ContainerFactory, PodFactory
from harness.waiting import wait_until

CPU_SECONDS = "container_cpu_usage_seconds_total"
WORKING_SET = "container_memory_working_set_bytes"
# The container metrics the kubelet's summary and resource metrics need at the least.
CORE_METRICS = (CPU_SECONDS, WORKING_SET)
MIB = 1024 * 1024
BUSY = ["sh", "-c", "while :; do :; done"]
IDLE = ["sleep", "3600"]
FILLED_MIB = 24  # held in the pod's /dev/shm (64 MiB by default), which the container is charged
FILL = ["sh", "-c", f"dd if=/dev/zero of=/dev/shm/fill bs={MIB} count={FILLED_MIB} && sleep 3600"]
SAMPLING_SLACK = 8 * MIB  # two samples a moment apart of a container that holds still


def pod_metrics(cri: CriClient, pod_id: str) -> api.PodSandboxMetrics:
    entries = [entry for entry in cri.list_pod_metrics() if entry.pod_sandbox_id == pod_id]
    assert len(entries) == 1, f"ListPodSandboxMetrics has {len(entries)} entries for the pod"
    return entries[0]


def container_value(cri: CriClient, pod_id: str, container_id: str, name: str) -> int:
    """The one value of metric ``name`` the runtime reports for a container."""
    entry = pod_metrics(cri, pod_id)
    found = [
        metric.value.value
        for item in entry.container_metrics
        if item.container_id == container_id
        for metric in item.metrics
        if metric.name == name
    ]
    assert len(found) == 1, f"{len(found)} values of {name} for container {container_id}"
    return found[0]


@pytest.mark.feature("pod.metrics.descriptors")
def test_metric_descriptors_are_named_explained_and_labelled(cri: CriClient) -> None:
    descriptors = cri.list_metric_descriptors()
    names = [descriptor.name for descriptor in descriptors]
    assert len(names) == len(set(names)), f"descriptors named more than once: {names}"
    unexplained = [d.name for d in descriptors if not d.help or not d.label_keys]
    assert not unexplained, f"descriptors without help text or label keys: {unexplained}"
    missing = [name for name in CORE_METRICS if name not in names]
    assert not missing, f"ListMetricDescriptors lacks {missing}"


@pytest.mark.feature("pod.metrics.pod")
def test_pod_metrics_cover_the_pod_and_its_container_with_described_metrics(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod()
    container = make_container(pod)
    label_keys = {d.name: len(d.label_keys) for d in cri.list_metric_descriptors()}
    entry = pod_metrics(cri, pod.id)
    by_container = {item.container_id: item.metrics for item in entry.container_metrics}
    assert container.id in by_container, "ListPodSandboxMetrics has no metrics for the container"
    metrics: list[api.Metric] = [*entry.metrics, *by_container[container.id]]
    undescribed = {m.name for m in metrics if m.name not in label_keys}
    assert not undescribed, f"metrics sent without a descriptor: {sorted(undescribed)}"
    mislabelled = {m.name for m in metrics if len(m.label_values) != label_keys[m.name]}
    assert not mislabelled, f"metrics whose label values do not match the keys: {mislabelled}"


@pytest.mark.feature("pod.metrics.cpu")
def test_cpu_seconds_count_what_a_busy_container_burns_and_not_an_idle_one(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    started = time.monotonic()
    busy = make_container(busy_pod := make_pod(), command=BUSY)
    idle = make_container(idle_pod := make_pod(), command=IDLE)
    burnt = wait_until(
        lambda: container_value(cri, busy_pod.id, busy.id, CPU_SECONDS),
        lambda seconds: seconds >= 2,
        what=f"{CPU_SECONDS} of a container busy on one CPU to reach 2",
    )
    wall = time.monotonic() - started
    assert burnt <= wall + 1, f"one busy thread cannot burn {burnt} CPU seconds in {wall:.1f} s"
    assert container_value(cri, idle_pod.id, idle.id, CPU_SECONDS) < burnt
    later = container_value(cri, busy_pod.id, busy.id, CPU_SECONDS)
    assert later >= burnt, f"the counter {CPU_SECONDS} went back from {burnt} to {later}"


@pytest.mark.feature("pod.metrics.memory")
def test_the_working_set_holds_what_the_container_filled_and_matches_its_stats(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod()
    filler = make_container(pod, command=FILL)
    held = wait_until(
        lambda: container_value(cri, pod.id, filler.id, WORKING_SET),
        lambda size: size >= FILLED_MIB * MIB,
        what=f"{WORKING_SET} of a container holding {FILLED_MIB} MiB to reach it",
    )
    stats = cri.container_stats(filler.id).memory.working_set_bytes.value
    assert abs(held - stats) <= SAMPLING_SLACK, (
        f"{WORKING_SET} says {held} bytes, ContainerStats says {stats}"
    )
