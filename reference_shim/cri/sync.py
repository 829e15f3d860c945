"""Keeping records true to what the backend really has.

Used after every backend action, on each exit event, and by recovery after a restart
(reference_shim.cri.recovery): VMs that started, exited or vanished move their record to the
right state.
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import VmState, VmStatus
from reference_shim.cri.context import ShimContext
from reference_shim.cri.convert.messages import status_user
from reference_shim.cri.state_machine import can_move, exit_reason
from reference_shim.state.records import ContainerRecord, PodRecord
from reference_shim.timestamps import now_ns

UNKNOWN_EXIT_CODE = 255  # what containerd reports when a container's exit was not seen
_LOG_DRAIN_S = 2.0
_SIGKILL_EXIT = 137
# Docker may record an OOM kill a moment after the exit it caused; look again for this long.
_OOM_SETTLE_NS = 10 * 10**9


def sync_container(
    ctx: ShimContext, record: ContainerRecord, status: VmStatus | None = None
) -> ContainerRecord:
    """Move ``record`` to the state its VM is in; logs are drained before EXITED shows."""
    if record.state == cri.CONTAINER_EXITED and _oom_may_still_be_reported(record):
        return _settle_oom_reason(ctx, record)
    if record.state == cri.CONTAINER_EXITED or not record.vm_id:
        return record
    with ctx.registry.object_lock(record.id):
        if status is None:
            status = ctx.backend.inspect_vm(record.vm_id)
        if status.state is VmState.RUNNING and record.state != cri.CONTAINER_RUNNING:
            if can_move(record.state, cri.CONTAINER_RUNNING):
                # a start the shim died in: the backend started the VM, the record never knew
                mark_started(ctx, record, status)
        elif status.state is VmState.EXITED:
            pump = ctx.pump(record.id)
            if pump is not None:
                pump.wait(_LOG_DRAIN_S)
            record.state = cri.CONTAINER_EXITED
            record.started_at = record.started_at or status.started_at
            record.finished_at = status.finished_at or now_ns()
            record.exit_code = (
                status.exit_code if status.exit_code is not None else (UNKNOWN_EXIT_CODE)
            )
            record.reason = exit_reason(record.exit_code, status.oom_killed)
            record.message = status.error
        elif status.state is VmState.MISSING:
            record.state = cri.CONTAINER_EXITED
            record.finished_at = record.finished_at or now_ns()
            record.exit_code = UNKNOWN_EXIT_CODE
            record.reason = "Unknown"
            record.message = "the container's VM vanished from the backend"
        else:
            return record
        if record.id in ctx.registry.containers:
            ctx.registry.save_container(record)
    return record


def mark_started(ctx: ShimContext, record: ContainerRecord, status: VmStatus) -> None:
    """Record what a started VM tells of its container: the identity its process runs as (read
    at once, before the process can drop privileges), when it started, its VM's own IP."""
    record.user = status_user(ctx.backend.process_user(record.vm_id))
    record.state = cri.CONTAINER_RUNNING
    record.started_at = status.started_at or now_ns()
    record.ip = status.ip


def _oom_may_still_be_reported(record: ContainerRecord) -> bool:
    """A SIGKILL exit may be an OOM kill whose event the backend has not processed yet."""
    recent = now_ns() - record.finished_at < _OOM_SETTLE_NS
    return (
        bool(record.vm_id)
        and record.exit_code == _SIGKILL_EXIT
        and recent
        and (record.reason != "OOMKilled")
    )


def _settle_oom_reason(ctx: ShimContext, record: ContainerRecord) -> ContainerRecord:
    with ctx.registry.object_lock(record.id):
        status = ctx.backend.inspect_vm(record.vm_id)
        if status.oom_killed and record.id in ctx.registry.containers:
            record.reason = exit_reason(record.exit_code, oom_killed=True)
            ctx.registry.save_container(record)
    return record


def sync_pod(ctx: ShimContext, pod: PodRecord, status: VmStatus | None = None) -> PodRecord:
    if pod.state != cri.SANDBOX_READY:
        return pod
    with ctx.registry.object_lock(pod.id):
        if status is None:
            status = ctx.backend.inspect_vm(pod.vm_id) if pod.vm_id else None
        if status is None or status.state in {VmState.EXITED, VmState.MISSING}:
            pod.state = cri.SANDBOX_NOTREADY
        elif status.ip and status.ip != pod.ip:
            pod.ip = status.ip  # a modelled pod's IP comes with its workload, and may change
        else:
            return pod
        if pod.id in ctx.registry.pods:
            ctx.registry.save_pod(pod)
    return pod


def on_vm_exit(ctx: ShimContext, vm_id: str) -> None:
    record = ctx.registry.by_vm(vm_id)
    if isinstance(record, ContainerRecord):
        sync_container(ctx, record)
    elif isinstance(record, PodRecord):
        sync_pod(ctx, record)
