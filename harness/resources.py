"""Ownership of the pods and containers a run creates.

Every object the harness makes carries ``RUN_LABEL=<run id>``. A test's tracker removes what
that test made; the session sweep removes whatever still carries this run's label and reports
it as a leak. Objects without the label are never touched, so the harness is safe to point
at a live node.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from cri_api.v1 import api_pb2 as cri

from harness.client import CallFailed, CriClient, CriError

RUN_LABEL = "cri-conformance.io/run"
TEST_ANNOTATION = "cri-conformance.io/test"


def new_run_id() -> str:
    """Sortable by time, unique across concurrent runs, and a valid Kubernetes label value."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def ownership_labels(run_id: str) -> dict[str, str]:
    return {RUN_LABEL: run_id}


def run_selector(run_id: str) -> dict[str, str]:
    return {RUN_LABEL: run_id}


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


def _ignore_not_found(
    action: str, object_id: str, errors: list[str], call: Callable[[], None]
) -> None:
    """Run ``call``; NOT_FOUND means someone (often the test itself) already removed it."""
    try:
        call()
    except CallFailed as error:
        if error.code is not grpc.StatusCode.NOT_FOUND:
            errors.append(f"{action} {object_id[:13]}: {error}")
    except CriError as error:
        errors.append(f"{action} {object_id[:13]}: {error}")


def remove_container(client: CriClient, container_id: str) -> list[str]:
    errors: list[str] = []
    _ignore_not_found(
        "stop container",
        container_id,
        errors,
        lambda: client.stop_container(container_id, timeout=0),
    )
    _ignore_not_found(
        "remove container", container_id, errors, lambda: client.remove_container(container_id)
    )
    return errors


def remove_pod(client: CriClient, pod_id: str) -> list[str]:
    errors: list[str] = []
    _ignore_not_found("stop pod", pod_id, errors, lambda: client.stop_pod(pod_id))
    _ignore_not_found("remove pod", pod_id, errors, lambda: client.remove_pod(pod_id))
    return errors


@dataclass
class ResourceTracker:
    """What one test created, removed in reverse order when the test ends."""

    client: CriClient
    pods: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)

    def add_pod(self, pod_id: str) -> None:
        self.pods.append(pod_id)

    def add_container(self, container_id: str) -> None:
        self.containers.append(container_id)

    def cleanup(self) -> list[str]:
        """Remove everything tracked; return the errors instead of stopping at the first."""
        errors: list[str] = []
        for container_id in reversed(self.containers):
            errors += remove_container(self.client, container_id)
        for pod_id in reversed(self.pods):
            errors += remove_pod(self.client, pod_id)
        self.containers.clear()
        self.pods.clear()
        return errors


def _removed_leak(kind: str, found: cri.Container | cri.PodSandbox, errors: list[str]) -> Leak:
    return Leak(
        kind=kind,
        id=found.id,
        name=found.metadata.name,
        test=found.annotations.get(TEST_ANNOTATION, ""),
        removed=not errors,
        error="; ".join(errors),
    )


def sweep(client: CriClient, run_id: str) -> list[Leak]:
    """Remove every pod and container still labelled with this run, reporting each one."""
    selector = run_selector(run_id)
    containers = client.list_containers(cri.ContainerFilter(label_selector=selector))
    leaks = [
        _removed_leak("container", container, remove_container(client, container.id))
        for container in containers
    ]
    pods = client.list_pods(cri.PodSandboxFilter(label_selector=selector))
    leaks += [_removed_leak("pod", pod, remove_pod(client, pod.id)) for pod in pods]
    return leaks
