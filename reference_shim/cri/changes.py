"""What the backend reports about its VMs, applied to the records (the shim's ``VmChanges``).

A change arrives on the backend's watching thread and must be taken at once, so each is
applied on a thread of its own, under its record's lock (a 30 s stop of one container must not
hold up another's exit). Until it is applied, ``Registry.freshness`` sends status and list
calls about its VM to the backend. Applying reads the VM again only when the record may lack
the change: the events of what the shim did itself (its own start, stop or removal, already
in the record) cost nothing.
"""

from __future__ import annotations

import logging
import threading

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import VmChange
from reference_shim.cri.context import ShimContext
from reference_shim.cri.state_machine import OOM_KILLED_REASON
from reference_shim.cri.sync import sync_container, sync_pod
from reference_shim.state.records import ContainerRecord, PodRecord

log = logging.getLogger(__name__)


def may_lack(record: ContainerRecord, change: VmChange) -> bool:
    """Whether ``record`` may not show ``change`` yet."""
    if change is VmChange.STARTED:
        return record.state == cri.CONTAINER_CREATED
    if change is VmChange.OOM_KILLED:
        return record.reason != OOM_KILLED_REASON
    return record.state != cri.CONTAINER_EXITED


def apply_change(ctx: ShimContext, vm_id: str, change: VmChange) -> None:
    """Under the record's lock; nothing for a record removed meanwhile (the shim's own
    removal is what Docker's ``destroy`` reports)."""
    registry = ctx.registry
    record = registry.by_vm(vm_id)
    if isinstance(record, ContainerRecord):
        with registry.object_lock(record.id):
            if record.id in registry.containers and may_lack(record, change):
                sync_container(ctx, record)
    elif isinstance(record, PodRecord) and change in {VmChange.EXITED, VmChange.REMOVED}:
        with registry.object_lock(record.id):  # a pod VM is started by the shim alone
            if record.id in registry.pods:
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
        self._ctx.registry.freshness.arrived(vm_id)
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
            apply_change(self._ctx, vm_id, change)
        except Exception:  # the record stays unread: the next call about it asks the backend
            log.exception("applying %s of VM %s failed", change.value, vm_id[:12])
        finally:
            self._ctx.registry.freshness.applied(vm_id)

    def wait(self, timeout: float) -> None:
        """Let the changes being applied finish (before the store closes)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
