"""Prometheus-style pod metrics: ListMetricDescriptors and ListPodSandboxMetrics (KEP 2371).

The kubelet asks once for the descriptors and then republishes every metric it is sent under
the descriptor's name, so names, units and meanings follow cAdvisor's, the metrics it serves
when the runtime does not. Values come from the same backend samples as ListPodSandboxStats;
a pod's own entry is its totals (its VM plus the workloads placed in it), as cAdvisor's pod
cgroup is. Label keys are ``id``, ``name`` and ``image`` (the kubelet adds the pod's
namespace and name itself); network metrics add the ``interface``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import VmStats
from reference_shim.cri.stats import Stats
from reference_shim.state.records import ContainerRecord, PodRecord

_NS_PER_S = 1_000_000_000
_LABEL_KEYS = ("id", "name", "image")
_INTERFACE = "eth0"  # every pod VM has one interface, named as in the CRI stats


@dataclass(frozen=True)
class _Metric:
    name: str
    help: str
    metric_type: cri.MetricType.ValueType
    value: Callable[[VmStats], int]
    per_interface: bool = False

    def descriptor(self) -> cri.MetricDescriptor:
        keys = [*_LABEL_KEYS, "interface"] if self.per_interface else list(_LABEL_KEYS)
        return cri.MetricDescriptor(name=self.name, help=self.help, label_keys=keys)

    def sample(self, stats: VmStats, labels: list[str]) -> cri.Metric:
        values = [*labels, _INTERFACE] if self.per_interface else labels
        return cri.Metric(
            name=self.name,
            timestamp=stats.timestamp,
            metric_type=self.metric_type,
            label_values=values,
            value=cri.UInt64Value(value=max(0, self.value(stats))),
        )


_COUNTER, _GAUGE = cri.COUNTER, cri.GAUGE

_WORKLOAD_METRICS = (
    _Metric(
        "container_cpu_usage_seconds_total",
        "Cumulative cpu time consumed in seconds.",
        _COUNTER,
        lambda s: s.cpu_usage_ns // _NS_PER_S,
    ),
    _Metric(
        "container_memory_usage_bytes",
        "Current memory usage in bytes, including all memory regardless of when it was accessed.",
        _GAUGE,
        lambda s: s.memory_usage,
    ),
    _Metric(
        "container_memory_working_set_bytes",
        "Current working set in bytes.",
        _GAUGE,
        lambda s: s.memory_working_set,
    ),
    _Metric("container_memory_rss", "Size of RSS in bytes.", _GAUGE, lambda s: s.memory_rss),
    _Metric(
        "container_processes",
        "Number of processes running inside the container.",
        _GAUGE,
        lambda s: s.pids,
    ),
)

_NETWORK_METRICS = (
    _Metric(
        "container_network_receive_bytes_total",
        "Cumulative count of bytes received.",
        _COUNTER,
        lambda s: s.network_rx_bytes,
        per_interface=True,
    ),
    _Metric(
        "container_network_receive_errors_total",
        "Cumulative count of errors encountered while receiving.",
        _COUNTER,
        lambda s: s.network_rx_errors,
        per_interface=True,
    ),
    _Metric(
        "container_network_transmit_bytes_total",
        "Cumulative count of bytes transmitted.",
        _COUNTER,
        lambda s: s.network_tx_bytes,
        per_interface=True,
    ),
    _Metric(
        "container_network_transmit_errors_total",
        "Cumulative count of errors encountered while transmitting.",
        _COUNTER,
        lambda s: s.network_tx_errors,
        per_interface=True,
    ),
)


def _pod_labels(pod: PodRecord) -> list[str]:
    return [pod.id, pod.name, ""]


def _container_labels(container: ContainerRecord) -> list[str]:
    return [container.id, container.name, container.config.image.image]


class Metrics:
    """Metrics for every ready pod and its running containers, sampled as the stats are."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats

    def descriptors(self) -> list[cri.MetricDescriptor]:
        return [metric.descriptor() for metric in (*_WORKLOAD_METRICS, *_NETWORK_METRICS)]

    def list_pods(self) -> list[cri.PodSandboxMetrics]:
        found = (self._pod(pod) for pod in self.stats.ready_pods())
        return [entry for entry in found if entry is not None]

    def _pod(self, pod: PodRecord) -> cri.PodSandboxMetrics | None:
        sample = self.stats.sample_pod(pod)
        if sample is None:
            return None
        labels = _pod_labels(pod)
        pod_metrics = [m.sample(sample.total, labels) for m in _WORKLOAD_METRICS]
        pod_metrics += [m.sample(sample.pod_vm, labels) for m in _NETWORK_METRICS]
        return cri.PodSandboxMetrics(
            pod_sandbox_id=pod.id,
            metrics=pod_metrics,
            container_metrics=[
                cri.ContainerMetrics(
                    container_id=container.id,
                    metrics=[m.sample(vm, _container_labels(container)) for m in _WORKLOAD_METRICS],
                )
                for container, vm in sample.workloads
                if vm is not None
            ],
        )
