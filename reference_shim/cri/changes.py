"""What the backend reports about its VMs, applied to the records (the shim's ``VmChanges``).

A change arrives on the backend's watching thread and must be taken at once: it is queued
(``Registry.freshness``, where it keeps its record from counting as current) and applied by
whoever comes first under the record's lock, the thread started for it or a call that needs
the record (``cri/current.py``), so that a status call right after a start needs no thread
switch. Applying reads the VM again only when the record may lack a change: the events of what
the shim did itself (its own start, stop or removal, already in the record) cost nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import VmChange
from reference_shim.cri.context import ShimContext
from reference_shim.cri.state_machine import OOM_KILLED_REASON
from reference_shim.cri.sync import sync_container, sync_pod
from reference_shim.state.records import ContainerRecord, PodRecord

log = logging.getLogger(__name__)
_POD_CHANGES = {VmChange.EXITED, VmChange.REMOVED}  # a pod VM is started by the shim alone


def may_lack(record: ContainerRecord, change: VmChange) -> bool:
    """Whether ``record`` may not show ``change`` yet."""
    if change is VmChange.STARTED:
        return record.state == cri.CONTAINER_CREATED
    if change is VmChange.OOM_KILLED:
        return record.reason != OOM_KILLED_REASON
    return record.state != cri.CONTAINER_EXITED


def _may_lack_any(record: ContainerRecord | PodRecord, changes: list[VmChange]) -> bool:
    if isinstance(record, ContainerRecord):
        return any(may_lack(record, change) for change in changes)
    return bool(_POD_CHANGES.intersection(changes))


def apply_arrived(ctx: ShimContext, vm_id: str, record: ContainerRecord | PodRecord | None) -> None:
    """Apply the changes of ``vm_id`` that arrived, if another caller has not, to ``record``
    (None: no record has the VM, and they are dropped). One read covers them all; nothing for
    a record removed meanwhile (Docker's ``destroy`` of the shim's own removal)."""
    registry = ctx.registry
    lock = registry.object_lock(record.id) if record is not None else contextlib.nullcontext()
    with lock, registry.freshness.applying(vm_id) as names:
        changes = [VmChange(name) for name in names]
        if record is None or not registry.owns(record.id) or not _may_lack_any(record, changes):
            return
        if isinstance(record, ContainerRecord):
            sync_container(ctx, record)
        else:
            sync_pod(ctx, record)


class RecordChanges:
    def __init__(self, ctx: ShimContext) -> None:
        self._ctx = ctx
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def following(self) -> None:
        self._ctx.registry.freshness.following()

    def lost(self) -> None:
        self._ctx.registry.freshness.lost()

    def changed(self, vm_id: str, change: VmChange) -> None:
        self._ctx.registry.freshness.arrived(vm_id, change.value)
        thread = threading.Thread(
            target=self._apply,
            args=(vm_id, change),
            daemon=True,
            name=f"{change.value}-{vm_id[:12]}",
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _apply(self, vm_id: str, change: VmChange) -> None:
        try:
            apply_arrived(self._ctx, vm_id, self._ctx.registry.by_vm(vm_id))
        except Exception:  # the record stays unread: the next call about it asks the backend
            log.exception("applying %s of VM %s failed", change.value, vm_id[:12])

    def wait(self, timeout: float) -> None:
        """Let the changes being applied finish (before the store closes)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
