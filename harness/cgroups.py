"""Cgroups: the parents pods are placed under, and the limits a container sees in them.

The kubelet always gives a pod a cgroup parent, and some runtimes (containerd 1.6) only report
pod stats for pods that have one, so the pod stats tests run such pods. On a
cgroupfs runtime the harness owns the parent directory it names and removes it afterwards.
Limits are read from inside the container, from the cgroup files a program there would read.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import grpc
from cri_api.v1 import api_pb2 as api

from harness.client import CallFailed, CriClient
from harness.factories import Container
from harness.probes import exec_in, exec_ok, shell_in

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_driver(cri: CriClient) -> int:
    """The runtime's cgroup driver; runtimes without RuntimeConfig use cgroupfs."""
    try:
        return cri.runtime_config().linux.cgroup_driver
    except CallFailed as error:
        if error.code is grpc.StatusCode.UNIMPLEMENTED:
            return api.CGROUPFS
        raise


def new_cgroup_parent(driver: int) -> str:
    """A cgroup parent no other test uses, in the syntax of the runtime's driver."""
    token = secrets.token_hex(4)
    if driver == api.SYSTEMD:
        return f"cri_conformance_{token}.slice"
    return f"/cri-conformance-{token}"


def parent_path(parent: str, driver: int) -> str:
    """Where a cgroup parent is in the hierarchy: a cgroupfs parent is a path already; a
    systemd slice sits in the slices its dashes name (``a-b.slice`` is ``/a.slice/a-b.slice``)."""
    if driver != api.SYSTEMD:
        return "/" + parent.strip("/")
    parts = parent.removesuffix(".slice").split("-")
    return "".join("/" + "-".join(parts[: i + 1]) + ".slice" for i in range(len(parts)))


def process_cgroups(cri: CriClient, container: Container) -> dict[str, str]:
    """Hierarchy (its controllers, or "" for the unified one) -> the cgroup of a process in the
    container, as ``/proc/self/cgroup`` shows it there."""
    found = {}
    for line in exec_ok(cri, container, "cat", "/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        found[controllers] = path
    return found


def populated_below(directory: Path) -> bool:
    """Whether a cgroup directory on the host, or one below it, holds a process."""
    return any(procs.read_text().strip() for procs in directory.rglob("cgroup.procs"))


def assert_under_cgroup_parent(
    cri: CriClient, container: Container, parent: str, driver: int
) -> None:
    """The container's processes are in a cgroup below ``parent``.

    Seen from inside through ``/proc/self/cgroup``; a container in a cgroup namespace of its
    own sees its cgroup as "/" there, and then the parent's directory on the host must hold
    the processes (the runtime runs on this host, as the cgroupfs parents of ``new_cgroup_parent``
    already assume).
    """
    expected = parent_path(parent, driver)
    paths = process_cgroups(cri, container)
    if set(paths.values()) == {"/"}:
        directories = [d for d in CGROUP_ROOT.glob(f"*{expected}") if d.is_dir()]
        directories += [CGROUP_ROOT / expected.lstrip("/")] if expected != "/" else []
        assert any(d.is_dir() and populated_below(d) for d in directories), (
            f"the container sees its cgroup as / (a cgroup namespace), and on the host no "
            f"cgroup below {expected} holds a process"
        )
        return
    outside = {
        hierarchy: path for hierarchy, path in paths.items() if not path.startswith(expected + "/")
    }
    assert not outside, (
        f"the pod's cgroup_parent is {parent!r} ({expected}); a process of its container is in "
        f"{outside} (/proc/self/cgroup)"
    )


def remove_cgroup_parent(parent: str) -> list[str]:
    """Remove a cgroupfs parent from every hierarchy, once the runtime emptied it.

    Returns what could not be removed. Systemd slices are left to systemd.
    """
    if not parent.startswith("/"):
        return []
    relative = parent.lstrip("/")
    # One directory per v1 hierarchy (/sys/fs/cgroup/cpu/...), or one on a unified host.
    candidates = [*CGROUP_ROOT.glob(f"*/{relative}"), CGROUP_ROOT / relative]
    problems = []
    for directory in candidates:
        try:
            directory.rmdir()
        except FileNotFoundError:
            continue
        except OSError as error:
            problems.append(f"{directory}: {error}")
    return problems


# The files a program in the container reads its limits from, in CgroupLimits' order after
# the version: cpu weight (shares on v1), CPU quota and period, memory limit, cpuset.
LIMIT_FILES = {
    1: (
        "cpu/cpu.shares",
        "cpu/cpu.cfs_quota_us",
        "cpu/cpu.cfs_period_us",
        "memory/memory.limit_in_bytes",
        "cpuset/cpuset.cpus",
    ),
    2: ("cpu.weight", "cpu.max", "memory.max", "cpuset.cpus.effective"),
}


# A shell test that holds when the container sees the unified hierarchy (cgroup v2).
_UNIFIED = f"test -e {CGROUP_ROOT}/cgroup.controllers"


def sees_unified_hierarchy(cri: CriClient, container: Container) -> bool:
    """Whether the container's /sys/fs/cgroup is the unified hierarchy (cgroup v2)."""
    return exec_in(cri, container, "sh", "-c", _UNIFIED).exit_code == 0


def _limits_script() -> str:
    """Prints 2 on the unified hierarchy (else 1), then one line per file of LIMIT_FILES;
    fails, with cat's complaint, when one is missing. One ExecSync instead of one per file."""

    def lines(version: int) -> str:
        paths = " ".join(f"{CGROUP_ROOT}/{name}" for name in LIMIT_FILES[version])
        return f'echo {version}; for f in {paths}; do v=$(cat "$f") || exit 1; echo "$v"; done'

    return f"if {_UNIFIED}; then {lines(2)}; else {lines(1)}; fi"


LIMITS_SCRIPT = _limits_script()


def shares_to_weight(shares: int) -> int:
    """The cgroup v2 cpu.weight the OCI runtimes derive from CPU shares."""
    return 1 + ((shares - 2) * 9999) // 262142


@dataclass(frozen=True)
class CgroupLimits:
    """What the container's cgroup says; quota and period in µs, memory in bytes.

    ``cpu_weight`` is cpu.shares on cgroup v1 and cpu.weight on v2; an unlimited CPU quota
    reads as -1 on both.
    """

    version: int
    cpu_weight: int
    cpu_quota: int
    cpu_period: int
    memory_limit: int
    cpuset_cpus: str

    def weight_for_shares(self, shares: int) -> int:
        return shares if self.version == 1 else shares_to_weight(shares)


def read_limits(cri: CriClient, container: Container) -> CgroupLimits:
    """The limits a process in the container sees in its own cgroup."""
    version, *values = shell_in(cri, container, LIMITS_SCRIPT).splitlines()
    if version == "1":
        shares, quota, period, memory, cpuset = values
        return CgroupLimits(1, int(shares), int(quota), int(period), int(memory), cpuset)
    weight, cpu_max, memory, cpuset = values
    quota, period = cpu_max.split()
    return CgroupLimits(
        version=2,
        cpu_weight=int(weight),
        cpu_quota=-1 if quota == "max" else int(quota),
        cpu_period=int(period),
        memory_limit=-1 if memory == "max" else int(memory),
        cpuset_cpus=cpuset,
    )


def swap_beyond_memory(cri: CriClient, container: Container) -> int | None:
    """How much swap the container's cgroup allows on top of its memory, in bytes (-1: no
    limit); None when the kernel does not account swap (cgroup v1 without ``swapaccount``).

    cgroup v1 limits memory plus swap (``memory.memsw.limit_in_bytes``), v2 swap alone.
    """
    v2 = f"cat {CGROUP_ROOT}/memory.swap.max"
    v1_dir = CGROUP_ROOT / "memory"
    v1 = f"cat {v1_dir}/memory.memsw.limit_in_bytes {v1_dir}/memory.limit_in_bytes"
    found = exec_in(cri, container, "sh", "-c", f"if {_UNIFIED}; then {v2}; else {v1}; fi")
    if found.exit_code:
        return None
    values = found.stdout.decode().split()
    if len(values) == 2:
        memory_and_swap, memory = values
        return int(memory_and_swap) - int(memory)
    return -1 if values == ["max"] else int(values[0])
