"""A workload's resources in its VM: cgroup v2 files in the guest, the VM's size, its figures.

The agent (``guest/limits.sh``) mounts cgroup2 in the guest, puts the workload and its execs in a
cgroup of their own (``/sys/fs/cgroup/workload``), and bind-mounts that cgroup at the
container's ``/sys/fs/cgroup``, so a program in the container reads its limits where it would
under runc. Here: what to write in which file of that cgroup (the ``LIMITS`` and ``UPDATE``
lines), how big the VM must be for a memory limit to bind before the guest runs out of RAM, and
the guest's cgroup figures (the ``STATSEND`` answer) as ``VmStats``.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

from reference_shim.backends.base import ResourceSpec, VmStats
from reference_shim.backends.microvm.launch import MEMORY_MIB
from reference_shim.errors import InvalidArgument, Unimplemented

MIB = 1024 * 1024
# What the guest needs besides its workload's memory: the kernel, the unpacked initramfs, the
# agent and its children, page tables. A memory limit takes that much RAM more, so the workload
# meets its limit (an OOM kill in its cgroup) before the guest meets its end of RAM.
GUEST_HEADROOM_MIB = 128
DEFAULT_CPU_PERIOD_US = 100_000  # the kernel's default CFS period
_PAGE_SIZE = re.compile(r"[1-9][0-9]*[KMG]B")  # the kubelet's names: 2MB, 1GB


def cpu_weight(shares: int) -> int:
    """cgroup v2 ``cpu.weight`` for CPU shares, as runc and crun convert them."""
    return 1 + ((shares - 2) * 9999) // 262142


def cgroup_files(resources: ResourceSpec) -> tuple[tuple[str, str], ...]:
    """The workload cgroup's files and their values for ``resources``; a field left unset keeps
    its file as it is (the kernel's default at create, the last value on update, as runc does).

    CRI's swap limit is memory plus swap (Docker's ``--memory-swap``); v2 limits swap alone."""
    files: list[tuple[str, str]] = []
    if resources.cpu_shares:
        files.append(("cpu.weight", str(cpu_weight(resources.cpu_shares))))
    if resources.cpu_quota or resources.cpu_period:
        quota = str(resources.cpu_quota) if resources.cpu_quota > 0 else "max"
        files.append(("cpu.max", f"{quota} {resources.cpu_period or DEFAULT_CPU_PERIOD_US}"))
    if resources.memory_limit:
        files.append(("memory.max", str(resources.memory_limit)))
        swap = resources.memory_swap_limit
        extra = "max" if swap < 0 else str(max(swap - resources.memory_limit, 0))
        files.append(("memory.swap.max", extra))
    if resources.cpuset_cpus:
        files.append(("cpuset.cpus", resources.cpuset_cpus))
    if resources.cpuset_mems:
        files.append(("cpuset.mems", resources.cpuset_mems))
    files += [(_hugetlb_file(size), str(limit)) for size, limit in resources.hugepage_limits]
    return tuple(files + _unified_files(resources.unified))


def _hugetlb_file(page_size: str) -> str:
    """The hugetlb controller's limit for one page size (a size the guest kernel lacks has no
    file: its write fails, and the agent says so)."""
    if not _PAGE_SIZE.fullmatch(page_size):
        raise InvalidArgument(
            f"linux.resources.hugepage_limits: page size {page_size!r} is not a size like 2MB"
        )
    return f"hugetlb.{page_size}.max"


def _unified_files(unified: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """Unified resources, written after the other files as runc writes them: a key is a file
    of the cgroup named CONTROLLER.PARAMETER (runc refuses any other, and one with a slash), a
    value of several lines is written line by line (runc's ``WriteFileByLine``: ``io.max``)."""
    files = []
    for key, value in unified:
        controller, _, parameter = key.partition(".")
        if not (controller and parameter) or any(mark in key for mark in "/=\n"):
            raise InvalidArgument(
                f"linux.resources.unified: {key!r} is not a cgroup v2 file name of the form "
                "CONTROLLER.PARAMETER (memory.high)"
            )
        lines = [line for line in value.split("\n") if line] or [value]
        files += [(key, line) for line in lines]
    return files


def cpu_list(text: str) -> set[int]:
    """The CPUs of a cpuset list (``0-2,4``)."""
    cpus: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        if not first.isdigit() or not (last or first).isdigit() or int(last or first) < int(first):
            raise InvalidArgument(f"cpuset {text!r} is not a list of CPUs like 0-2,4")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def vm_memory_mib(resources: ResourceSpec) -> int:
    """The VM's RAM (QEMU's ``-m``): room for the memory limit and the guest above it."""
    if resources.memory_limit <= 0:
        return MEMORY_MIB
    return max(MEMORY_MIB, math.ceil(resources.memory_limit / MIB) + GUEST_HEADROOM_MIB)


def vm_cpus(resources: ResourceSpec) -> int:
    """The VM's vCPUs (QEMU's ``-smp``): one, or as many as the CPU quota uses in full (a quota
    of 1.5 CPUs needs two) or the cpuset names (CPU 3 needs four); a quota beyond the host's
    CPUs gets them all (it holds as a ceiling, as runc's does on a smaller node), a cpuset
    beyond them is refused. A VM has one NUMA node, so ``cpuset_mems`` may only name 0."""
    if resources.cpuset_mems and cpu_list(resources.cpuset_mems) != {0}:
        raise Unimplemented(
            f"linux.resources.cpuset_mems {resources.cpuset_mems!r}: a microvm VM has one "
            "memory node, 0"
        )
    host = os.cpu_count() or 1
    wanted = max(cpu_list(resources.cpuset_cpus), default=0) + 1
    if wanted > host:
        raise Unimplemented(
            f"linux.resources.cpuset_cpus {resources.cpuset_cpus!r}: a VM gets at most the "
            f"host's {host} CPUs"
        )
    if resources.cpu_quota > 0:
        period = resources.cpu_period or DEFAULT_CPU_PERIOD_US
        wanted = max(wanted, min(host, math.ceil(resources.cpu_quota / period)))
    return wanted


def refuse_update(resources: ResourceSpec, memory_mib: int, cpus: int) -> None:
    """A running VM keeps the RAM and vCPUs it booted with: the backend hotplugs neither."""
    if resources.memory_limit > (memory_mib - GUEST_HEADROOM_MIB) * MIB:
        raise Unimplemented(
            f"linux.memory_limit_in_bytes {resources.memory_limit}: the VM booted with "
            f"{memory_mib} MiB of RAM, room for a limit of {memory_mib - GUEST_HEADROOM_MIB} "
            "MiB, and the microvm backend does not hotplug memory into a running VM"
        )
    if resources.cpuset_cpus and max(cpu_list(resources.cpuset_cpus)) >= cpus:
        raise Unimplemented(
            f"linux.cpuset_cpus {resources.cpuset_cpus!r}: the VM booted with {cpus} vCPU(s), "
            "and the microvm backend does not hotplug CPUs into a running VM"
        )
    vm_cpus(resources)  # cpuset_mems


def stats(figures: str, timestamp: int, writable_layer_bytes: int) -> VmStats:
    """``VmStats`` from the agent's ``STATSEND``: the workload cgroup's ``cpu.stat`` and
    ``memory.stat`` lines, then ``memory.current``, ``memory.max`` and ``pids.current``, each
    ``KEY VALUE``. The working set is the kubelet's: usage less inactive file pages."""
    values = dict(line.split(" ", 1) for line in figures.splitlines() if " " in line)

    def number(key: str) -> int:
        value = values.get(key, "0").strip()
        return int(value) if value.isdigit() else 0

    usage = number("memory.current")
    return VmStats(
        timestamp=timestamp, cpu_usage_ns=number("usage_usec") * 1000, memory_usage=usage,
        memory_working_set=max(usage - number("inactive_file"), 0),
        memory_rss=number("anon"), memory_limit=number("memory.max"),
        page_faults=number("pgfault"), major_page_faults=number("pgmajfault"),
        pids=number("pids.current"), network_rx_bytes=0, network_tx_bytes=0,
        network_rx_errors=0, network_tx_errors=0, writable_layer_bytes=writable_layer_bytes,
    )  # fmt: skip


def sysctl_path(name: str) -> str:
    """A sysctl's file under /proc/sys. Kubernetes writes a name with dots or with slashes; a
    name whose first separator is a slash keeps its dots (``net/ipv4/conf/eth0.100/rp_filter``),
    a dotted one has its dots and slashes swapped, as runc and the kubelet do."""
    slash, dot = name.find("/"), name.find(".")
    path = name if slash >= 0 and (dot < 0 or slash < dot) else name.translate(_SWAP)
    parts = path.split("/")
    if not name or any(part in {"", ".", ".."} for part in parts):
        raise InvalidArgument(f"sysctl {name!r} is not a sysctl name")
    return path


_SWAP = str.maketrans("./", "/.")


def settings(resources: ResourceSpec, sysctls: dict[str, str]) -> dict[str, Any]:
    """The ``Launch`` fields for a workload's resources and its pod's sysctls. A VM has a kernel
    of its own, so every sysctl, namespaced or node-wide, is set in that VM's kernel only."""
    return {
        "memory_mib": vm_memory_mib(resources),
        "cpus": vm_cpus(resources),
        "limits": cgroup_files(resources),
        "sysctls": tuple((sysctl_path(name), value) for name, value in sorted(sysctls.items())),
        "oom_score_adj": resources.oom_score_adj,
    }
