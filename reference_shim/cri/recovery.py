"""Recovering after a restart, even after SIGKILL: records made true, leftovers removed.

At start, before serving, ``recover`` reconciles every record with the backend, resumes log
copying and serves the pods' host ports. A killed shim may have left backend requests in
flight that the backend finishes only after the new shim first looked (Docker completes a
create whose caller is gone, and a network create under load takes seconds), so
``reconcile`` runs again a few times after start (``LATE_RECONCILES_S``), while serving.
Anything no record owns is then a dead shim's leftover: its VMs, its pod networks, its
per-pod files. What this shim is making right now (``Registry.creating``) is not, nor what a
removed pod left: its stored teardown (``reference_shim.cri.teardowns``) removes that, started
again by every pass until it has succeeded.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import VmState, VmStatus, pod_networks
from reference_shim.backends.labels import POD_ID_LABEL
from reference_shim.cri.context import ShimContext
from reference_shim.cri.convert.vm_specs import CONTAINER_ID_LABEL
from reference_shim.cri.sync import sync_listed
from reference_shim.errors import ShimError

log = logging.getLogger(__name__)

# Pauses between the passes after start: the last one runs about two minutes after it.
LATE_RECONCILES_S = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def recover(ctx: ShimContext) -> None:
    """At (re)start, before serving: reconcile, then serve the host ports of ready pods."""
    reconcile(ctx)
    for pod in list(ctx.registry.pods.values()):
        if pod.state == cri.SANDBOX_READY:
            try:
                ctx.serve_host_ports(pod)
            except ShimError as error:
                log.error("pod %s keeps its VMs but not its host ports: %s", pod.id[:12], error)


def reconcile_late(ctx: ShimContext, stop: threading.Event) -> None:
    """The passes after start, until ``stop`` is set."""
    for pause in LATE_RECONCILES_S:
        if stop.wait(pause):
            return
        try:
            reconcile(ctx)
        except Exception:
            log.exception("reconciling with the backend failed; the next pass tries again")


def reconcile(ctx: ShimContext) -> None:
    """Records to the backend's states, log copying resumed, leftovers removed."""
    ctx.teardowns.resume()
    vms = ctx.backend.list_vms()
    _resume_logs(ctx, vms)
    with ctx.registry.lock:
        pods, containers = list(ctx.registry.pods.values()), list(ctx.registry.containers.values())
    sync_listed(ctx, pods, containers, vms)
    _remove_leftovers(ctx, vms)


def _resume_logs(ctx: ShimContext, vms: dict[str, VmStatus]) -> None:
    """A log copier for every started container that has none: started by its record, or by
    the backend alone (the shim died inside StartContainer)."""
    for container in list(ctx.registry.containers.values()):
        status = vms.get(container.vm_id)
        if not container.log_path or status is None or ctx.pump(container.id) is not None:
            continue
        if container.started_at or status.state is not VmState.CREATED:
            ctx.start_pump(container.id, container.vm_id, Path(container.log_path))


def _made_for(status: VmStatus) -> str:
    """The pod or container a VM was made for, by the labels the shim gave it."""
    return status.labels.get(CONTAINER_ID_LABEL) or status.labels.get(POD_ID_LABEL, "")


def _remove_leftovers(ctx: ShimContext, vms: dict[str, VmStatus]) -> None:
    registry = ctx.registry
    for vm_id, status in vms.items():
        if registry.owns_vm(vm_id, made_for=_made_for(status)):
            continue
        if ctx.backend.inspect_vm(vm_id).state is VmState.MISSING:
            continue  # its owner removed it after the listing (a removal, a pod's teardown)
        log.warning(
            "removing VM %s: no record owns it (a shim stopped while creating it)", vm_id[:12]
        )
        ctx.backend.remove_vm(vm_id)
    networks = pod_networks(ctx.backend)
    if networks is not None:
        for name, pod_id in networks.pod_networks().items():
            if not registry.owns(pod_id):
                log.warning("removing pod network %s: no pod owns it any more", name)
                networks.remove_pod_network(name)
    for folder in ctx.pods_dir.iterdir() if ctx.pods_dir.is_dir() else ():
        if not registry.owns(folder.name):
            log.warning("removing the files of pod %s: no pod owns them", folder.name[:12])
            shutil.rmtree(folder, ignore_errors=True)
