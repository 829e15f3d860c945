"""The shim's view of every pod and container: in memory, written through to the store.

``lock`` guards the maps and is held only briefly; ``object_lock(id)`` serialises the slow
backend work on one object (a 30 s stop of one container never blocks another).
``creating(id)`` marks a pod or container whose backend objects exist before its record does,
and ``teardowns`` hold the backend objects of removed pods until they are gone, so that
reconciling never takes either for a dead shim's leftovers. ``freshness`` says which records
show what the backend has (``state/freshness.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from reference_shim.state import ids
from reference_shim.state.freshness import Freshness
from reference_shim.state.records import ContainerRecord, PodRecord, PodTeardown
from reference_shim.state.store import Store


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.RLock()
        self.pods: dict[str, PodRecord] = {pod.id: pod for pod in store.load_pods()}
        self.containers: dict[str, ContainerRecord] = {
            container.id: container for container in store.load_containers()
        }
        self.teardowns: dict[str, PodTeardown] = {
            teardown.pod_id: teardown for teardown in store.load_teardowns()
        }
        self._object_locks: dict[str, threading.RLock] = {}
        self._creating: set[str] = set()
        self.freshness = Freshness()

    def object_lock(self, object_id: str) -> threading.RLock:
        with self.lock:
            return self._object_locks.setdefault(object_id, threading.RLock())

    def forget_lock(self, object_id: str) -> None:
        with self.lock:
            self._object_locks.pop(object_id, None)

    @contextmanager
    def creating(self, object_id: str) -> Iterator[None]:
        """While the backend objects of ``object_id`` are made, until its record is saved (or
        what was made is removed again)."""
        with self.lock:
            self._creating.add(object_id)
        try:
            yield
        finally:
            with self.lock:
                self._creating.discard(object_id)

    def owns(self, object_id: str) -> bool:
        """Whether ``object_id`` is a pod or container this shim knows, is making, or is
        tearing down."""
        with self.lock:
            known = object_id in self.pods or object_id in self.containers
            return known or object_id in self._creating or object_id in self.teardowns

    def owns_vm(self, vm_id: str, made_for: str) -> bool:
        """Whether a record or a teardown holds the VM, or what it was made for is being made
        right now (in one look: a record is saved before its creation ends)."""
        with self.lock:
            if made_for in self._creating or self.by_vm(vm_id) is not None:
                return True
            return any(vm_id in teardown.vm_ids for teardown in self.teardowns.values())

    # -- lookups ------------------------------------------------------------------------

    def pod(self, prefix: str) -> PodRecord:
        with self.lock:
            return self.pods[ids.resolve(prefix, self.pods, "pod sandbox")]

    def container(self, prefix: str) -> ContainerRecord:
        with self.lock:
            return self.containers[ids.resolve(prefix, self.containers, "container")]

    def find_pod(self, prefix: str) -> PodRecord | None:
        with self.lock:
            found = ids.find(prefix, self.pods)
            return self.pods[found] if found else None

    def find_container(self, prefix: str) -> ContainerRecord | None:
        with self.lock:
            found = ids.find(prefix, self.containers)
            return self.containers[found] if found else None

    def containers_of(self, pod_id: str) -> list[ContainerRecord]:
        with self.lock:
            return [c for c in self.containers.values() if c.pod_id == pod_id]

    def by_vm(self, vm_id: str) -> PodRecord | ContainerRecord | None:
        with self.lock:
            records: list[PodRecord | ContainerRecord] = [
                *self.pods.values(),
                *self.containers.values(),
            ]
            for record in records:
                if record.vm_id == vm_id:
                    return record
        return None

    # -- writes -------------------------------------------------------------------------

    def save_pod(self, pod: PodRecord) -> None:
        with self.lock:
            self.pods[pod.id] = pod
            self.store.save_pod(pod)

    def delete_pod(self, pod_id: str) -> None:
        with self.lock:
            pod = self.pods.pop(pod_id, None)
            self.store.delete_pod(pod_id)
        if pod is not None:
            self.freshness.forget(pod.vm_id)

    def retire_pod(self, teardown: PodTeardown) -> None:
        """The pod and its containers are gone for CRI; ``teardown`` holds what they left."""
        with self.lock:
            self.store.retire_pod(teardown)
            self.pods.pop(teardown.pod_id, None)
            for container in self.containers_of(teardown.pod_id):
                self.containers.pop(container.id, None)
            self.teardowns[teardown.pod_id] = teardown
        for vm_id in (teardown.pod_vm, *teardown.container_vms):
            self.freshness.forget(vm_id)

    def finish_teardown(self, pod_id: str) -> None:
        with self.lock:
            self.teardowns.pop(pod_id, None)
            self.store.delete_teardown(pod_id)

    def save_container(self, container: ContainerRecord) -> None:
        with self.lock:
            self.containers[container.id] = container
            self.store.save_container(container)

    def delete_container(self, container_id: str) -> None:
        with self.lock:
            container = self.containers.pop(container_id, None)
            self.store.delete_container(container_id)
        if container is not None:
            self.freshness.forget(container.vm_id)
