"""Pod metrics: ListMetricDescriptors and ListPodSandboxMetrics (the CRI stats of KEP 2371).

The kubelet asks for descriptors once and then expects every metric it is sent to be
described, with as many label values as the descriptor has label keys.
"""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.factories import ContainerFactory, PodFactory

# The container metrics the kubelet's summary and resource metrics need at the least.
CORE_METRICS = ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes")


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
    entries = [entry for entry in cri.list_pod_metrics() if entry.pod_sandbox_id == pod.id]
    assert len(entries) == 1, f"ListPodSandboxMetrics has {len(entries)} entries for the pod"
    (entry,) = entries
    by_container = {item.container_id: item.metrics for item in entry.container_metrics}
    assert container.id in by_container, "ListPodSandboxMetrics has no metrics for the container"
    metrics: list[api.Metric] = [*entry.metrics, *by_container[container.id]]
    undescribed = {m.name for m in metrics if m.name not in label_keys}
    assert not undescribed, f"metrics sent without a descriptor: {sorted(undescribed)}"
    mislabelled = {m.name for m in metrics if len(m.label_values) != label_keys[m.name]}
    assert not mislabelled, f"metrics whose label values do not match the keys: {mislabelled}"
