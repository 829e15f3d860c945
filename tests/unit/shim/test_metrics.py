"""Pod metrics are the stats' samples under cAdvisor's names, each described (fake backend)."""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri
from shim_helpers import container_config, pod_config

from harness.client import CriClient


def by_name(metrics: list[cri.Metric]) -> dict[str, cri.Metric]:
    return {metric.name: metric for metric in metrics}


def test_every_descriptor_is_unique_explained_and_labelled(client: CriClient) -> None:
    descriptors = client.list_metric_descriptors()
    names = [d.name for d in descriptors]
    assert len(names) == len(set(names))
    assert all(d.help and d.label_keys[:3] == ["id", "name", "image"] for d in descriptors)
    network = next(d for d in descriptors if d.name == "container_network_receive_bytes_total")
    assert network.label_keys[-1] == "interface"


def test_a_pod_reports_its_totals_and_each_running_container_its_own(client: CriClient) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    (created,) = client.list_pod_metrics()
    assert (created.pod_sandbox_id, list(created.container_metrics)) == (pod_id, [])
    client.start_container(container_id)

    (entry,) = client.list_pod_metrics()
    pod = by_name(list(entry.metrics))
    assert pod["container_memory_working_set_bytes"].value.value == 3000  # pod VM + container
    assert pod["container_memory_working_set_bytes"].metric_type == cri.GAUGE
    assert pod["container_processes"].value.value == 4
    assert list(pod["container_network_receive_bytes_total"].label_values) == [
        pod_id,
        "p",
        "",
        "eth0",
    ]
    (container,) = entry.container_metrics
    assert container.container_id == container_id
    own = by_name(list(container.metrics))
    assert own["container_memory_working_set_bytes"].value.value == 1500
    assert own["container_cpu_usage_seconds_total"].metric_type == cri.COUNTER
    assert own["container_cpu_usage_seconds_total"].label_values[:2] == [container_id, "c"]
    assert "container_network_receive_bytes_total" not in own  # the network is the pod's


def test_a_stopped_pod_has_no_metrics(client: CriClient) -> None:
    pod_id = client.run_pod(pod_config())
    client.stop_pod(pod_id)
    assert client.list_pod_metrics() == []
