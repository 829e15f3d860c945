"""Container and pod sandbox stats from the backend's counters."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import VmStats
from reference_shim.cri import filters
from reference_shim.cri.context import ShimContext
from reference_shim.cri.current import current_containers, current_pods
from reference_shim.state.records import ContainerRecord, PodRecord
from reference_shim.timestamps import now_ns

_PARALLEL_SAMPLES = 8


def _u64(value: int) -> cri.UInt64Value:
    return cri.UInt64Value(value=max(0, value))


def _cpu(stats: VmStats) -> cri.CpuUsage:
    return cri.CpuUsage(timestamp=stats.timestamp, usage_core_nano_seconds=_u64(stats.cpu_usage_ns))


def _memory(stats: VmStats) -> cri.MemoryUsage:
    available = stats.memory_limit - stats.memory_working_set if stats.memory_limit else 0
    return cri.MemoryUsage(
        timestamp=stats.timestamp,
        working_set_bytes=_u64(stats.memory_working_set),
        available_bytes=_u64(available),
        usage_bytes=_u64(stats.memory_usage),
        rss_bytes=_u64(stats.memory_rss),
        page_faults=_u64(stats.page_faults),
        major_page_faults=_u64(stats.major_page_faults),
    )


def _sum(parts: list[VmStats]) -> VmStats:
    """One pod's usage: its VM plus the workloads placed in it."""
    first = parts[0]
    return VmStats(
        timestamp=max(part.timestamp for part in parts),
        cpu_usage_ns=sum(part.cpu_usage_ns for part in parts),
        memory_usage=sum(part.memory_usage for part in parts),
        memory_working_set=sum(part.memory_working_set for part in parts),
        memory_rss=sum(part.memory_rss for part in parts),
        memory_limit=first.memory_limit,
        page_faults=sum(part.page_faults for part in parts),
        major_page_faults=sum(part.major_page_faults for part in parts),
        pids=sum(part.pids for part in parts),
        network_rx_bytes=first.network_rx_bytes,
        network_tx_bytes=first.network_tx_bytes,
        network_rx_errors=first.network_rx_errors,
        network_tx_errors=first.network_tx_errors,
        writable_layer_bytes=sum(part.writable_layer_bytes for part in parts),
    )


class PodSample(NamedTuple):
    pod_vm: VmStats
    total: VmStats
    workloads: list[tuple[ContainerRecord, VmStats | None]]


class Stats:
    """Backends may take a while per VM (Docker waits for its next 1 s sample), so the VMs of
    one answer are sampled in parallel."""

    def __init__(self, ctx: ShimContext) -> None:
        self.ctx = ctx
        self._pool = ThreadPoolExecutor(max_workers=_PARALLEL_SAMPLES, thread_name_prefix="stats")

    def _vm_stats(self, record: ContainerRecord | PodRecord) -> VmStats | None:
        return self.ctx.backend.stats(record.vm_id) if record.vm_id else None

    def _sample(self, records: Sequence[ContainerRecord | PodRecord]) -> list[VmStats | None]:
        return list(self._pool.map(self._vm_stats, records))

    def container(self, record: ContainerRecord) -> cri.ContainerStats:
        vm = self._vm_stats(record) if record.state == cri.CONTAINER_RUNNING else None
        return self._container_stats(record, vm)

    def _container_stats(self, record: ContainerRecord, vm: VmStats | None) -> cri.ContainerStats:
        stats = cri.ContainerStats(
            attributes=cri.ContainerAttributes(
                id=record.id,
                metadata=record.config.metadata,
                labels=record.config.labels,
                annotations=record.config.annotations,
            )
        )
        if vm is not None:
            stats.cpu.CopyFrom(_cpu(vm))
            stats.memory.CopyFrom(_memory(vm))
            stats.writable_layer.CopyFrom(
                cri.FilesystemUsage(
                    timestamp=vm.timestamp,
                    fs_id=cri.FilesystemIdentifier(mountpoint=self.ctx.backend.images.mountpoint()),
                    used_bytes=_u64(vm.writable_layer_bytes),
                )
            )
        return stats

    def container_by_id(self, container_id: str) -> cri.ContainerStats:
        record = self.ctx.registry.container(container_id)
        return self.container(current_containers(self.ctx, [record])[0])

    def list_containers(
        self, stats_filter: cri.ContainerStatsFilter | None
    ) -> list[cri.ContainerStats]:
        running = [c for c in current_containers(self.ctx) if c.state == cri.CONTAINER_RUNNING]
        with self.ctx.registry.lock:
            pod_ids = list(self.ctx.registry.pods)
        chosen = filters.container_stats(running, pod_ids, stats_filter)
        return [
            self._container_stats(container, vm)
            for container, vm in zip(chosen, self._sample(chosen), strict=True)
        ]

    def sample_pod(self, pod: PodRecord) -> PodSample | None:
        """The pod VM's counters, the pod's totals and each running container's counters, or
        None for a pod that is not ready (it has nothing left to measure)."""
        if pod.state != cri.SANDBOX_READY:
            return None
        containers = current_containers(self.ctx, self.ctx.registry.containers_of(pod.id))
        running = [c for c in containers if c.state == cri.CONTAINER_RUNNING]
        pod_vm, *sampled = self._sample([pod, *running])
        if pod_vm is None:
            return None
        workloads = list(zip(running, sampled, strict=True))
        total = _sum([pod_vm, *[vm for _, vm in workloads if vm is not None]])
        return PodSample(pod_vm, total, workloads)

    def ready_pods(self) -> list[PodRecord]:
        return [p for p in current_pods(self.ctx) if p.state == cri.SANDBOX_READY]

    def pod(self, pod: PodRecord) -> cri.PodSandboxStats:
        stats = cri.PodSandboxStats(
            attributes=cri.PodSandboxAttributes(
                id=pod.id,
                metadata=pod.config.metadata,
                labels=pod.config.labels,
                annotations=pod.config.annotations,
            )
        )
        sample = self.sample_pod(pod)
        if sample is None:
            return stats
        pod_vm, total, workloads = sample
        stats.linux.CopyFrom(
            cri.LinuxPodSandboxStats(
                cpu=_cpu(total),
                memory=_memory(total),
                network=cri.NetworkUsage(
                    timestamp=pod_vm.timestamp,
                    default_interface=cri.NetworkInterfaceUsage(
                        name="eth0",
                        rx_bytes=_u64(pod_vm.network_rx_bytes),
                        rx_errors=_u64(pod_vm.network_rx_errors),
                        tx_bytes=_u64(pod_vm.network_tx_bytes),
                        tx_errors=_u64(pod_vm.network_tx_errors),
                    ),
                ),
                process=cri.ProcessUsage(timestamp=now_ns(), process_count=_u64(total.pids)),
                containers=[self._container_stats(c, vm) for c, vm in workloads],
            )
        )
        return stats

    def pod_by_id(self, pod_id: str) -> cri.PodSandboxStats:
        return self.pod(current_pods(self.ctx, [self.ctx.registry.pod(pod_id)])[0])

    def list_pods(
        self, stats_filter: cri.PodSandboxStatsFilter | None
    ) -> list[cri.PodSandboxStats]:
        return [self.pod(pod) for pod in filters.pod_stats(self.ready_pods(), stats_filter)]
