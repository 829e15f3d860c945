"""Docker's stats document (cgroup v1 or v2) as ``VmStats``."""

from __future__ import annotations

from typing import Any

from reference_shim.backends.base import VmStats
from reference_shim.timestamps import now_ns, parse_rfc3339_nano


def _memory(memory: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """usage, working set, rss, page faults, major page faults."""
    detail = memory.get("stats") or {}
    usage = int(memory.get("usage") or 0)
    # cgroup v1 names first, then v2's.
    inactive_file = int(detail.get("total_inactive_file", detail.get("inactive_file", 0)))
    rss = int(detail.get("total_rss", detail.get("rss", detail.get("anon", 0))))
    faults = int(detail.get("total_pgfault", detail.get("pgfault", 0)))
    major = int(detail.get("total_pgmajfault", detail.get("pgmajfault", 0)))
    working_set = max(0, usage - inactive_file)
    return usage, working_set, rss, faults, major


def to_vm_stats(document: dict[str, Any], writable_layer_bytes: int) -> VmStats:
    memory = document.get("memory_stats") or {}
    usage, working_set, rss, faults, major = _memory(memory)
    networks = document.get("networks") or {}
    read_at = parse_rfc3339_nano(str(document.get("read", ""))) or now_ns()
    return VmStats(
        timestamp=read_at,
        cpu_usage_ns=int(
            ((document.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage", 0)
        ),
        memory_usage=usage,
        memory_working_set=working_set,
        memory_rss=rss,
        memory_limit=int(memory.get("limit") or 0),
        page_faults=faults,
        major_page_faults=major,
        pids=int((document.get("pids_stats") or {}).get("current") or 0),
        network_rx_bytes=sum(int(n.get("rx_bytes", 0)) for n in networks.values()),
        network_tx_bytes=sum(int(n.get("tx_bytes", 0)) for n in networks.values()),
        network_rx_errors=sum(int(n.get("rx_errors", 0)) for n in networks.values()),
        network_tx_errors=sum(int(n.get("tx_errors", 0)) for n in networks.values()),
        writable_layer_bytes=writable_layer_bytes,
    )
