"""Records as the backend has them, for status, list and stats calls.

While the backend reports its changes (``VmChanges.following``), a record that is current
(``state/freshness.py``) is answered from memory, without a backend call. Any other record's
VM is read again: one by one for a status call, and for the few records of a list that a
change just came in for; a list while the backend does not follow (its stream broke, or it
never does) asks for the backend's whole list once rather than one read per record.

A status call first waits, as it always did, for what is under way on its object (a start, a
stop, a removal) to end. A list or stats call does not wait for a record it can answer. Both
apply the changes that came in for a record before they read its VM (``cri/changes.py``):
most need no read at all (the event of the shim's own start).
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim.cri.changes import apply_arrived
from reference_shim.cri.context import ShimContext
from reference_shim.cri.sync import settled, sync_container, sync_listed, sync_pod
from reference_shim.state.records import ContainerRecord, PodRecord


def _pod_is_current(ctx: ShimContext, pod: PodRecord) -> bool:
    # A modelled pod's IP comes with the VMs of its workloads, whose changes are not the pod's.
    return not ctx.backend.models_pods and ctx.registry.freshness.current(pod.vm_id)


def _is_current(ctx: ShimContext, record: ContainerRecord | PodRecord) -> bool:
    """Whether ``record`` is current once the changes that came in for it are applied; waits
    for what is under way on it first, as a status call always did."""
    with ctx.registry.object_lock(record.id):
        if not ctx.registry.freshness.follows:
            return False
        apply_arrived(ctx, record.vm_id, record)
        if isinstance(record, PodRecord):
            return _pod_is_current(ctx, record)
        return ctx.registry.freshness.current(record.vm_id)


def current_container(ctx: ShimContext, record: ContainerRecord) -> ContainerRecord:
    return record if _is_current(ctx, record) else sync_container(ctx, record)


def current_pod(ctx: ShimContext, pod: PodRecord) -> PodRecord:
    return pod if _is_current(ctx, pod) else sync_pod(ctx, pod)


def current_pods(ctx: ShimContext, pods: list[PodRecord] | None = None) -> list[PodRecord]:
    """``pods`` (every pod by default) made current, for a list."""
    if pods is None:
        with ctx.registry.lock:
            pods = list(ctx.registry.pods.values())
    _make_current(ctx, pods, [])
    return pods


def current_containers(
    ctx: ShimContext, containers: list[ContainerRecord] | None = None
) -> list[ContainerRecord]:
    """``containers`` (every container by default) made current, for a list."""
    if containers is None:
        with ctx.registry.lock:
            containers = list(ctx.registry.containers.values())
    _make_current(ctx, [], containers)
    return containers


def _stale(
    ctx: ShimContext, pods: list[PodRecord], containers: list[ContainerRecord]
) -> tuple[list[PodRecord], list[ContainerRecord]]:
    freshness = ctx.registry.freshness
    return (
        [p for p in pods if p.state == cri.SANDBOX_READY and not _pod_is_current(ctx, p)],
        [c for c in containers if not settled(c) and not freshness.current(c.vm_id)],
    )


def _make_current(
    ctx: ShimContext, pods: list[PodRecord], containers: list[ContainerRecord]
) -> None:
    stale_pods, stale = _stale(ctx, pods, containers)
    if not stale_pods and not stale:
        return
    freshness = ctx.registry.freshness
    if not freshness.follows:
        sync_listed(ctx, stale_pods, stale, ctx.backend.list_vms())
        return
    records: list[PodRecord | ContainerRecord] = [*stale_pods, *stale]
    for record in records:
        apply_arrived(ctx, record.vm_id, record)
    stale_pods, stale = _stale(ctx, stale_pods, stale)
    for pod in stale_pods:
        sync_pod(ctx, pod)
    for container in stale:
        sync_container(ctx, container)
