"""What the VMs' folders say, whichever shim process wrote them: a VM's status, and the VMs a
restarted shim takes over.

Every VM has a folder in the backend's state (``spec.json``, ``started``, ``exit.json``: the
``qemu`` module's ``VmFiles``); a status is read from it alone, but for one thing only the
running shim knows: whether it holds the VM's ``Machine`` (a started VM it does not hold was
started by another shim process). At start, a shim takes over its instance's started VMs
(``recovery``), shared pod VMs first, since their containers are taken over through them
(``pod_vm.rejoin``), and stops the virtiofs daemons of VMs that have ended.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from reference_shim.backends.base import VmState, VmStatus
from reference_shim.backends.labels import INSTANCE_LABEL
from reference_shim.backends.microvm import pod_vm, recovery, shares
from reference_shim.backends.microvm.machine import Machine
from reference_shim.backends.microvm.qemu import VmFiles


def vm_status(vm_id: str, files: VmFiles, document: dict[str, Any], held: bool) -> VmStatus:
    """The VM's status from its folder; ``held``: this shim process holds its ``Machine``."""
    labels = dict(document["labels"])
    started = files.started_at()
    finished = files.exit_status()
    if finished is not None:
        return VmStatus(
            vm_id, VmState.EXITED, exit_code=finished["exit_code"], started_at=started,
            finished_at=max(int(finished["finished_at"]), started),
            error=str(finished.get("error") or ""), labels=labels,
            oom_killed=bool(finished.get("oom_killed")),
        )  # fmt: skip
    ip = str(document.get("address", "")).partition("/")[0]
    if not started:
        return VmStatus(vm_id, VmState.CREATED, ip=ip, labels=labels)
    if document["launch"] is not None and not held:
        # started by an earlier shim process and not taken over (another instance's VM)
        return VmStatus(
            vm_id, VmState.EXITED, exit_code=255, started_at=started, finished_at=started,
            error="the VM belongs to another shim process", labels=labels,
        )  # fmt: skip
    return VmStatus(vm_id, VmState.RUNNING, started_at=started, ip=ip, labels=labels)


def _spec(files: VmFiles) -> dict[str, Any] | None:
    try:
        return dict(json.loads(files.spec.read_text()))
    except FileNotFoundError:
        return None


def take_over(
    vms: Path, instance: str, on_exit: Callable[[str], Callable[[], None]]
) -> Iterator[tuple[str, Machine]]:
    """Each started VM of ``instance`` in the folder ``vms`` whose QEMU still runs, as a
    ``Machine`` this process holds (``on_exit(vm_id)``: what it calls when the VM exits)."""
    documents = {folder.name: _spec(VmFiles(folder)) for folder in sorted(vms.glob("*"))}
    taken: dict[str, Machine] = {}
    pods_first = sorted(documents, key=lambda vm_id: not (documents[vm_id] or {}).get("boots"))
    for vm_id in pods_first:
        document, files = documents[vm_id], VmFiles(vms / vm_id)
        if document is None:
            continue
        if files.exit.exists():  # its QEMU has ended; a daemon of its may be left
            shares.stop_daemon(files)
            continue
        mine = document["labels"].get(INSTANCE_LABEL) == instance
        booted = document["launch"] is not None or document.get("boots")
        if not mine or not booted or not files.started.exists():
            continue
        machine: Machine | None
        if document.get("member_of"):
            pod = taken.get(document["member_of"])
            running = pod if pod is not None and not pod.ended.is_set() else None
            machine = pod_vm.rejoin(files, on_exit(vm_id), running)
        else:
            kind = pod_vm.PodVm if document.get("boots") else Machine
            machine = recovery.reattach(files, on_exit(vm_id), kind)
        if machine is not None:
            taken[vm_id] = machine
            yield vm_id, machine
