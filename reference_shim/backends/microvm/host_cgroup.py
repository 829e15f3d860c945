"""A VM's QEMU under its pod's cgroup parent on the host, as Kata places its VMs.

Everything a container runs, runs inside its VM's QEMU process, so the pod's cgroup parent
(``linux.cgroup_parent``, cgroupfs syntax: this backend reports the cgroupfs driver) accounts
for its containers when the QEMU is in a cgroup below it: ``PARENT/cri-microvm-ID``, in each
hierarchy that needs no setup before a process joins (cgroup v2, or v1's cpu, cpuacct, memory,
pids, blkio; not cpuset, whose new cgroups start without CPUs). Inside the guest the container
has a cgroup namespace of its own, so it sees its cgroup as ``/``, as under containerd on
cgroup v2. The VM's own cgroup is removed when the VM is, so the parent can go once empty.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from reference_shim.errors import BackendError, InvalidArgument

ROOT = Path("/sys/fs/cgroup")
_V1_HIERARCHIES = ("cpu", "cpuacct", "memory", "pids", "blkio", "unified")


def _hierarchies(root: Path) -> list[Path]:
    if (root / "cgroup.controllers").exists():  # the unified hierarchy alone
        return [root]
    return [root / name for name in _V1_HIERARCHIES if (root / name / "cgroup.procs").exists()]


def relative(parent: str) -> str:
    """``parent`` as a path below a hierarchy's root; one that climbs out is invalid."""
    parts = [part for part in parent.split("/") if part]
    if any(part in {".", ".."} for part in parts):
        raise InvalidArgument(f"linux.cgroup_parent {parent!r} is not a cgroup path")
    return "/".join(parts)


def directories(parent: str, vm_id: str, root: Path = ROOT) -> list[Path]:
    """Where a VM's QEMU goes: one cgroup per hierarchy, below the parent."""
    name = f"cri-microvm-{vm_id[:16]}"
    return [hierarchy / relative(parent) / name for hierarchy in _hierarchies(root)]


def place(pid: int, parent: str, vm_id: str, root: Path = ROOT) -> None:
    """Move QEMU process ``pid`` (all its threads) into its cgroups below ``parent``."""
    found = directories(parent, vm_id, root)
    if not found:
        raise BackendError(f"no cgroup hierarchy under {root} to place the VM's QEMU in")
    for directory in found:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "cgroup.procs").write_text(str(pid))
        except OSError as error:
            raise BackendError(f"cannot put the VM's QEMU in {directory}: {error}") from error


def release(parent: str, vm_id: str, root: Path = ROOT) -> None:
    """Remove the VM's cgroups once its QEMU has ended (an empty cgroup's folder is removable)."""
    for directory in directories(parent, vm_id, root):
        with contextlib.suppress(OSError):
            directory.rmdir()
