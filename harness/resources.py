"""Removing what the run created: each test's tracker, and the sweep at the end of the run.

Every Stop and Remove the harness makes goes through ``remove``, which first reads the
object's own status and goes on only when ``RunOwnership.owns`` it (``harness.ownership``).
A test's tracker removes what that test made. The sweep removes whatever still carries this
run's label and reports it as a leak; whatever the runtime listed without that label (it
ignored the filter) is left alone and reported, and a sweep that cannot list fails.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import grpc
from cri_api.v1 import api_pb2 as cri

from harness.client import CallFailed, CriClient, CriError
from harness.ownership import TEST_ANNOTATION, Foreign, LeftAlone, RunOwnership, RuntimeObject


class CleanupWarning(UserWarning):
    """A test's objects could not all be removed; the session sweep will try again."""


@dataclass(frozen=True)
class Kind:
    """How to read, stop and remove one kind of object."""

    name: str
    status: Callable[[CriClient, str], RuntimeObject]
    stop: Callable[[CriClient, str], None]
    remove: Callable[[CriClient, str], None]


POD = Kind(
    "pod",
    status=lambda client, pod_id: client.pod_status(pod_id).status,
    stop=lambda client, pod_id: client.stop_pod(pod_id),
    remove=lambda client, pod_id: client.remove_pod(pod_id),
)
CONTAINER = Kind(
    "container",
    status=lambda client, container_id: client.container_status(container_id).status,
    stop=lambda client, container_id: client.stop_container(container_id, timeout=0),
    remove=lambda client, container_id: client.remove_container(container_id),
)


@dataclass
class Cleanup:
    """What removing some objects came to."""

    errors: list[str] = field(default_factory=list)
    left_alone: list[Foreign] = field(default_factory=list)

    def __iadd__(self, other: Cleanup) -> Cleanup:
        self.errors += other.errors
        self.left_alone += other.left_alone
        return self

    def settle(self) -> None:
        """At the end of a test: warn about errors (the sweep tries again); fail the test for
        objects left alone (the sweep will not see them: they are not the run's)."""
        if self.errors:
            warnings.warn(CleanupWarning("; ".join(self.errors)), stacklevel=2)
        if self.left_alone:
            raise LeftAlone(self.left_alone)


def _not_found(error: CriError) -> bool:
    return isinstance(error, CallFailed) and error.code is grpc.StatusCode.NOT_FOUND


@dataclass(frozen=True)
class Found:
    """An object's status read before touching it: whether it is the run's to remove, and
    what the reading came to (nothing, an error, or the object left alone)."""

    owned: bool
    outcome: Cleanup


def owned_status(client: CriClient, ownership: RunOwnership, kind: Kind, object_id: str) -> Found:
    """Read the object's own status; it may be stopped and removed only when ``owned``.

    NOT_FOUND means it is already gone (often the test removed it itself).
    """
    try:
        found = kind.status(client, object_id)
    except CriError as error:
        if _not_found(error):
            return Found(False, Cleanup())
        unchecked = f"{kind.name} {object_id[:13]}: left in place, its owner unknown: {error}"
        return Found(False, Cleanup(errors=[unchecked]))
    if not ownership.owns(found):
        return Found(False, Cleanup(left_alone=[Foreign.of(kind.name, found)]))
    return Found(True, Cleanup())


def remove(client: CriClient, ownership: RunOwnership, kind: Kind, object_id: str) -> Cleanup:
    """Stop and remove one object, once its own status shows it is this run's.

    NOT_FOUND, at any step, means it is already gone (often the test removed it itself).
    """
    found = owned_status(client, ownership, kind, object_id)
    if not found.owned:
        return found.outcome
    return stop_and_remove(client, kind, object_id)


def stop_and_remove(client: CriClient, kind: Kind, object_id: str) -> Cleanup:
    """Stop and remove an object whose status showed it is this run's (``owned_status``)."""
    errors = []
    for action, call in (("stop", kind.stop), ("remove", kind.remove)):
        try:
            call(client, object_id)
        except CriError as error:
            if not _not_found(error):
                errors.append(f"{action} {kind.name} {object_id[:13]}: {error}")
    return Cleanup(errors)


Removal = Callable[[CriClient], Cleanup]


class Later(Protocol):
    """Where a tracker can hand removals that need not hold up the end of its test
    (``harness.removal_queue``); it runs them with a client of its own."""

    def run(self, removal: Removal) -> Cleanup: ...


@dataclass
class ResourceTracker:
    """What one test created, removed in reverse order when the test ends.

    A container made in a pod this tracker also removes goes with its pod: RemovePodSandbox
    must remove the pod's containers (api.proto), which saves a Stop and a Remove per
    container. Its status is still read first (a container that is not the run's is left
    alone and reported, as any other), and read again once the pod is gone: one the runtime
    kept is stopped and removed on its own.

    Given ``later``, the tracker reads every status before its test ends, so an object that
    is not the run's still fails that test, and hands the stopping and removing of its pods
    to ``later``; containers outside its pods are removed at once, since another test may
    make its containers in the same pod next.
    """

    client: CriClient
    ownership: RunOwnership
    later: Later | None = None
    pods: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    pod_of: dict[str, str] = field(default_factory=dict)

    def add_pod(self, pod_id: str) -> None:
        self.pods.append(pod_id)

    def add_container(self, container_id: str, pod_id: str | None = None) -> None:
        """Track a container; ``pod_id`` is the pod it was created in, when known."""
        self.containers.append(container_id)
        if pod_id is not None:
            self.pod_of[container_id] = pod_id

    def cleanup(self) -> Cleanup:
        """Remove everything tracked; collect the problems instead of stopping at the first.

        With ``later``, what it reports of the pods is what earlier handed-over work came to.
        """
        outcome = Cleanup()
        with_their_pod = []
        for container_id in reversed(self.containers):
            if self.pod_of.get(container_id) in self.pods:
                found = owned_status(self.client, self.ownership, CONTAINER, container_id)
                outcome += found.outcome
                if found.owned:
                    with_their_pod.append(container_id)
            else:
                outcome += remove(self.client, self.ownership, CONTAINER, container_id)
        owned_pods = []
        for pod_id in reversed(self.pods):
            found = owned_status(self.client, self.ownership, POD, pod_id)
            outcome += found.outcome
            if found.owned:
                owned_pods.append(pod_id)
        ownership = self.ownership

        def remove_pods(client: CriClient) -> Cleanup:
            removed = Cleanup()
            for pod_id in owned_pods:
                removed += stop_and_remove(client, POD, pod_id)
            for container_id in with_their_pod:
                removed += remove(client, ownership, CONTAINER, container_id)
            return removed

        if self.later is None:
            outcome += remove_pods(self.client)
        else:
            outcome += self.later.run(remove_pods)
        self.containers.clear()
        self.pods.clear()
        self.pod_of.clear()
        return outcome


@dataclass(frozen=True)
class Leak:
    """An object of this run that was still there when the session ended."""

    kind: str
    id: str
    name: str
    test: str
    removed: bool
    error: str = ""

    def describe(self) -> str:
        outcome = "removed" if self.removed else f"NOT removed ({self.error})"
        made_by = f" made by {self.test}" if self.test else ""
        return f"{self.kind} {self.name} ({self.id[:13]}){made_by}: {outcome}"


@dataclass(frozen=True)
class Sweep:
    """The sweep's report: this run's leaks, and the foreign objects the runtime listed."""

    leaks: list[Leak]
    left_alone: list[Foreign]


def sweep(client: CriClient, ownership: RunOwnership) -> Sweep:
    """Remove every pod and container still labelled with this run, reporting each one.

    A listing error propagates: a sweep that cannot see what is left has not swept.
    """
    selector = ownership.labels
    listed: list[tuple[Kind, cri.Container | cri.PodSandbox]] = [
        (CONTAINER, found)
        for found in client.list_containers(cri.ContainerFilter(label_selector=selector))
    ]
    listed += [
        (POD, found) for found in client.list_pods(cri.PodSandboxFilter(label_selector=selector))
    ]
    leaks: list[Leak] = []
    left_alone: list[Foreign] = []
    for kind, found in listed:
        if not ownership.owns(found):
            left_alone.append(Foreign.of(kind.name, found))
            continue
        outcome = remove(client, ownership, kind, found.id)
        left_alone += outcome.left_alone
        if not outcome.left_alone:
            leaks.append(
                Leak(
                    kind=kind.name,
                    id=found.id,
                    name=found.metadata.name,
                    test=found.annotations.get(TEST_ANNOTATION, ""),
                    removed=not outcome.errors,
                    error="; ".join(outcome.errors),
                )
            )
    return Sweep(leaks, left_alone)
