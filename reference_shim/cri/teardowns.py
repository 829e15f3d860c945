"""Removing what a removed pod leaves in the backend, after RemovePodSandbox has answered.

RemovePodSandbox ends a pod for CRI at once (``reference_shim.cri.pods``): its workloads are
killed, its host ports closed, and its records replaced, in one store transaction, by a
``PodTeardown`` naming its VMs and its network. Removing those from the engine is the slow part
(Docker takes hundreds of milliseconds to remove a network, and about a hundred per container)
and no client needs to wait for it: the VMs no longer run, so they hold no host port and no
address (Docker frees a stopped container's), and the names of a new pod's VMs and network
carry the new pod's id, never the removed one's. So it happens here, on threads of its own.

The record stays stored until the objects are gone: a teardown that failed is tried again on
the next reconcile pass, and one that a killed shim left is finished by the next shim's
recovery (``reference_shim.cri.recovery``). A clean stop finishes those under way.
"""

from __future__ import annotations

import logging
import shutil
import threading
from concurrent import futures
from pathlib import Path

from reference_shim.backends.base import VmBackend, pod_networks
from reference_shim.cri import parallel
from reference_shim.state.records import PodTeardown
from reference_shim.state.registry import Registry

log = logging.getLogger(__name__)

_AT_ONCE = 4  # pods torn down side by side


class PodTeardowns:
    def __init__(self, registry: Registry, backend: VmBackend, pods_dir: Path) -> None:
        self._registry = registry
        self._backend = backend
        self._pods_dir = pods_dir
        self._pool = futures.ThreadPoolExecutor(_AT_ONCE, thread_name_prefix="pod-teardown")
        self._under_way: dict[str, futures.Future[None]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def start(self, teardown: PodTeardown) -> None:
        """Tear the pod down in the background, unless that is under way already. Once the
        shim is stopping, the stored record waits for the next shim."""
        with self._lock:
            if self._closed or teardown.pod_id in self._under_way:
                return
            under_way = self._pool.submit(self._finish, teardown)
            self._under_way[teardown.pod_id] = under_way
        under_way.add_done_callback(lambda done: self._forget(teardown.pod_id, done))

    def resume(self) -> None:
        """Start every stored teardown that is not under way: at recovery, and on every later
        reconcile pass, which so retries the ones that failed."""
        with self._registry.lock:
            stored = list(self._registry.teardowns.values())
        for teardown in stored:
            self.start(teardown)

    def settle(self, timeout: float | None = None) -> bool:
        """Start every stored teardown and wait until they have ended (or ``timeout``);
        whether there were any."""
        self.resume()
        with self._lock:
            under_way = list(self._under_way.values())
        futures.wait(under_way, timeout)
        return bool(under_way)

    def close(self) -> None:
        """Finish the teardowns under way, and start no more."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True)

    def remove(self, teardown: PodTeardown) -> None:
        """Remove the pod's VMs, network and files now; idempotent."""
        parallel.for_each(self._backend.remove_vm, teardown.container_vms)
        if teardown.pod_vm:
            self._backend.remove_vm(teardown.pod_vm)
        networks = pod_networks(self._backend)
        if teardown.network and networks is not None:
            networks.remove_pod_network(teardown.network)
        shutil.rmtree(self._pods_dir / teardown.pod_id, ignore_errors=True)

    def _finish(self, teardown: PodTeardown) -> None:
        try:
            self.remove(teardown)
        except Exception as error:  # the record stays; the next reconcile pass retries
            log.warning("tearing down removed pod %s failed: %s", teardown.pod_id[:12], error)
            return
        self._registry.finish_teardown(teardown.pod_id)

    def _forget(self, pod_id: str, done: futures.Future[None]) -> None:
        with self._lock:
            if self._under_way.get(pod_id) is done:
                del self._under_way[pod_id]
