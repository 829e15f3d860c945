"""What the backend asks a running VM's agent about its workload: figures, credentials, limits.

Each is one request line and its answer (``Machine.ask``; the lines are in README.md): ``STATS``
(the workload cgroup's figures), ``CREDS`` (its process's ``/proc/PID/status``) and ``UPDATE``
(new cgroup values). An agent that does not answer in time, or a VM that ended meanwhile, gives
no figures and no credentials, as a VM the backend does not know would.
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

from reference_shim.backends.base import ProcessUser, ResourceSpec, VmStats
from reference_shim.backends.microvm import limits
from reference_shim.backends.microvm.launch import Launch, b64
from reference_shim.backends.microvm.machine import Machine
from reference_shim.backends.proc_status import parse_status
from reference_shim.errors import DeadlineExceeded, FailedPrecondition, InvalidArgument
from reference_shim.timestamps import now_ns

_GONE = (DeadlineExceeded, FailedPrecondition)


def _text(answer: list[str]) -> str:
    return base64.b64decode(answer[-1]).decode(errors="replace") if answer else ""


def stats(machine: Machine, disk: Path) -> VmStats | None:
    try:
        figures = _text(machine.ask("STATS"))
    except _GONE:
        return None
    return limits.stats(figures, now_ns(), disk.stat().st_blocks * 512)


def idle_stats() -> VmStats:
    return VmStats(
        timestamp=now_ns(), cpu_usage_ns=0, memory_usage=0, memory_working_set=0, memory_rss=0,
        memory_limit=0, page_faults=0, major_page_faults=0, pids=0, network_rx_bytes=0,
        network_tx_bytes=0, network_rx_errors=0, network_tx_errors=0, writable_layer_bytes=0,
    )  # fmt: skip


def credentials(machine: Machine) -> ProcessUser | None:
    try:
        status = _text(machine.ask("CREDS"))
    except _GONE:
        return None
    return parse_status(status) if "Uid:" in status else None  # empty: the workload ended


def _merged(launch: Launch, resources: ResourceSpec) -> tuple[tuple[str, str], ...]:
    """The files ``launch`` writes, those ``resources`` names replaced (all the lines of one:
    a unified value may have several)."""
    files = limits.cgroup_files(resources)
    names = {name for name, _ in files}
    return tuple(pair for pair in launch.limits if pair[0] not in names) + files


def relaunch(launch: Launch, resources: ResourceSpec) -> Launch:
    """``launch`` with new resources, for a VM that has not booted yet: it may grow."""
    return dataclasses.replace(
        launch,
        limits=_merged(launch, resources),
        memory_mib=max(launch.memory_mib, limits.vm_memory_mib(resources)),
        cpus=max(launch.cpus, limits.vm_cpus(resources)),
    )


def update(machine: Machine, launch: Launch, resources: ResourceSpec) -> None:
    """Rewrite the running workload's cgroup files; the VM keeps its RAM and vCPUs."""
    limits.refuse_update(resources, launch.memory_mib, launch.cpus)
    files = limits.cgroup_files(resources)
    answer = machine.ask("UPDATE", (b64(f"{name}={value}") for name, value in files))
    if answer[:1] != ["0"]:
        raise InvalidArgument(f"the guest's kernel refused the resources: {_text(answer)}")
