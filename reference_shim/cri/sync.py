"""Keeping records true to what the backend really has.

Used after every backend action, on each change the backend reports (``cri/changes.py``), by
status and list calls (``cri/current.py``), and by recovery after a restart
(reference_shim.cri.recovery): VMs that started, exited or vanished move their record to the
right state. A read of a VM is announced to ``Registry.freshness``, so that the record counts
as current afterwards while the backend reports its changes.

A record's state is written last, after the details that go with it: status and list calls
read records without their lock, and must never see EXITED without its exit code.
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import VmState, VmStatus
from reference_shim.cri.context import ShimContext
from reference_shim.cri.convert.messages import status_user
from reference_shim.cri.state_machine import OOM_KILLED_REASON, can_move, exit_reason
from reference_shim.state.records import ContainerRecord, PodRecord
from reference_shim.timestamps import now_ns

UNKNOWN_EXIT_CODE = 255  # what containerd reports when a container's exit was not seen
_LOG_DRAIN_S = 2.0
_SIGKILL_EXIT = 137
# Docker may record an OOM kill a moment after the exit it caused; look again for this long.
_OOM_SETTLE_NS = 10 * 10**9
_CRI_STATES = {
    VmState.CREATED: cri.CONTAINER_CREATED,
    VmState.RUNNING: cri.CONTAINER_RUNNING,
    VmState.EXITED: cri.CONTAINER_EXITED,
    VmState.MISSING: cri.CONTAINER_EXITED,
}


def settled(record: ContainerRecord) -> bool:
    """Whether nothing the backend could say would change ``record`` any more."""
    exited = record.state == cri.CONTAINER_EXITED and not _oom_may_still_be_reported(record)
    return exited or not record.vm_id


def sync_container(
    ctx: ShimContext, record: ContainerRecord, status: VmStatus | None = None
) -> ContainerRecord:
    """Move ``record`` to the state its VM is in (read afresh unless ``status`` is given); logs
    are drained before EXITED shows."""
    if record.state == cri.CONTAINER_EXITED and _oom_may_still_be_reported(record):
        return _settle_oom_reason(ctx, record)
    if settled(record):
        return record
    with ctx.registry.object_lock(record.id):
        if record.state == cri.CONTAINER_EXITED:  # synced while this call waited for the lock
            return record
        if status is not None:
            _apply(ctx, record, status)
        else:
            with ctx.registry.freshness.reading(record.vm_id):
                _apply(ctx, record, ctx.backend.inspect_vm(record.vm_id))
    return record


def _apply(ctx: ShimContext, record: ContainerRecord, status: VmStatus) -> None:
    if status.state is VmState.RUNNING and record.state != cri.CONTAINER_RUNNING:
        if can_move(record.state, cri.CONTAINER_RUNNING):
            # a start the shim died in: the backend started the VM, the record never knew
            mark_started(ctx, record, status)
    elif status.state is VmState.EXITED:
        pump = ctx.pump(record.id)
        if pump is not None:
            pump.wait(_LOG_DRAIN_S)
        record.started_at = record.started_at or status.started_at
        record.finished_at = status.finished_at or now_ns()
        record.exit_code = status.exit_code if status.exit_code is not None else UNKNOWN_EXIT_CODE
        record.reason = exit_reason(record.exit_code, status.oom_killed)
        record.message = status.error
        record.state = cri.CONTAINER_EXITED
    elif status.state is VmState.MISSING:
        record.finished_at = record.finished_at or now_ns()
        record.exit_code = UNKNOWN_EXIT_CODE
        record.reason = "Unknown"
        record.message = "the container's VM vanished from the backend"
        record.state = cri.CONTAINER_EXITED
    else:
        return
    if record.id in ctx.registry.containers:
        ctx.registry.save_container(record)


def mark_started(ctx: ShimContext, record: ContainerRecord, status: VmStatus) -> None:
    """Record what a started VM tells of its container: the identity its process runs as (read
    at once, before the process can drop privileges), when it started, its VM's own IP."""
    record.user = status_user(ctx.backend.process_user(record.vm_id))
    record.started_at = status.started_at or now_ns()
    record.ip = status.ip
    record.state = cri.CONTAINER_RUNNING


def _oom_may_still_be_reported(record: ContainerRecord) -> bool:
    """A SIGKILL exit may be an OOM kill whose event the backend has not processed yet."""
    recent = now_ns() - record.finished_at < _OOM_SETTLE_NS
    return (
        bool(record.vm_id)
        and record.exit_code == _SIGKILL_EXIT
        and recent
        and record.reason != OOM_KILLED_REASON
    )


def _settle_oom_reason(ctx: ShimContext, record: ContainerRecord) -> ContainerRecord:
    with ctx.registry.object_lock(record.id), ctx.registry.freshness.reading(record.vm_id):
        status = ctx.backend.inspect_vm(record.vm_id)
        if status.oom_killed and record.id in ctx.registry.containers:
            record.reason = exit_reason(record.exit_code, oom_killed=True)
            ctx.registry.save_container(record)
    return record


def sync_pod(ctx: ShimContext, pod: PodRecord, status: VmStatus | None = None) -> PodRecord:
    if pod.state != cri.SANDBOX_READY:
        return pod
    with ctx.registry.object_lock(pod.id):
        if pod.state != cri.SANDBOX_READY:  # stopped while this call waited for the lock
            return pod
        if status is None and pod.vm_id:
            with ctx.registry.freshness.reading(pod.vm_id):
                _apply_to_pod(ctx, pod, ctx.backend.inspect_vm(pod.vm_id))
        else:
            _apply_to_pod(ctx, pod, status)
    return pod


def _apply_to_pod(ctx: ShimContext, pod: PodRecord, status: VmStatus | None) -> None:
    if status is None or status.state in {VmState.EXITED, VmState.MISSING}:
        pod.state = cri.SANDBOX_NOTREADY
    elif status.ip and status.ip != pod.ip:
        pod.ip = status.ip  # a modelled pod's IP comes with its workload, and may change
    else:
        return
    if pod.id in ctx.registry.pods:
        ctx.registry.save_pod(pod)


def sync_listed(
    ctx: ShimContext,
    pods: list[PodRecord],
    containers: list[ContainerRecord],
    vms: dict[str, VmStatus],
) -> None:
    """Sync records with ``vms``, the backend's list of its VMs. The list may be older than a
    record (RPCs are served meanwhile), so a record the list disagrees with is synced against
    its VM read afresh, under the record's lock."""
    for pod in pods:
        status = vms.get(pod.vm_id)
        ready = status is not None and status.state is VmState.RUNNING
        sync_pod(ctx, pod, status if ready == (pod.state == cri.SANDBOX_READY) else None)
    for container in containers:
        status = vms.get(container.vm_id)
        agrees = status is not None and _CRI_STATES[status.state] == container.state
        sync_container(ctx, container, status if agrees else None)
