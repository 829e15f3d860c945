"""Objects the tests of a run share: a default pod, and a running container of its own.

Pods are most of a suite's cost: RunPodSandbox sets up a network namespace through CNI and
StopPodSandbox tears it down, about 0.35 s of a 2-core machine per pod against 0.15 s for a
container's whole life. A test whose subject is a container, not its pod, makes its containers
in the run's ``shared_pod``; the test still creates and removes them itself, so while it runs
the pod holds its containers only (one at a time, as a one-container-per-pod runtime wants).
A test that changes the pod (its network, IPC or UTS namespace, its cgroup, its state), or
whose container leaves something in it (a network device, a file in /dev/shm), or that looks
at everything in it, or reaches whatever listens in it (its IP, a port forward), makes its own
with ``make_pod``.

``shared_container`` goes further, for tests that only run short commands in a default
container and leave nothing behind in it; it lives in a pod of its own, so that a test making
its container in ``shared_pod`` never meets it. Under pytest-xdist each worker makes its own.

Both are made once per process (pytest's session), not once per module: what a test may do to
them is the same either way (the rules above), and a module's pytest-xdist share is a run of
a few tests, so per module each worker made some 30 extra pods a run, most of them for one or
two tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from harness.client import CriClient
from harness.factories import Container, ContainerFactory, Pod, PodFactory, RunContext
from harness.images.catalog import ImageCatalog
from harness.pytest_plugin.session import CriSession, Settings
from harness.pytest_plugin.stash_keys import SETTINGS_KEY
from harness.removal_queue import RemovalQueue
from harness.resources import ResourceTracker

# Who made the shared objects, in their test annotation and in a failed removal's message.
SHARED_OWNER = "the session's shared objects"


def run_context_for(
    settings: Settings,
    cri: CriClient,
    tracker: ResourceTracker,
    test: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> RunContext:
    """What the factories need: the run, the tracker, and ``test`` (a test's or a module's
    node id) for the annotation that names who made each object."""
    return RunContext(
        client=cri,
        tracker=tracker,
        run_id=settings.run_id,
        test=test,
        log_root=tmp_path_factory.getbasetemp() / "pod-logs",
        runtime_handler=settings.runtime_handler,
    )


@contextmanager
def _session_pod(
    request: pytest.FixtureRequest,
    cri: CriClient,
    tmp_path_factory: pytest.TempPathFactory,
    removal_queue: RemovalQueue,
    name: str,
) -> Iterator[tuple[RunContext, Pod]]:
    """A default pod owned by the session, removed (with what is left in it) after its tests."""
    settings = request.config.stash[SETTINGS_KEY]
    tracker = ResourceTracker(cri, settings.ownership, removal_queue.on_behalf_of(SHARED_OWNER))
    context = run_context_for(settings, cri, tracker, SHARED_OWNER, tmp_path_factory)
    try:
        yield context, PodFactory(context)(name)
    finally:
        tracker.cleanup().settle()


@pytest.fixture(scope="session")
def shared_pod(
    request: pytest.FixtureRequest,
    cri: CriClient,
    tmp_path_factory: pytest.TempPathFactory,
    removal_queue: RemovalQueue,
) -> Iterator[Pod]:
    """A default pod for the tests to make their containers in (see above)."""
    with _session_pod(request, cri, tmp_path_factory, removal_queue, "shared") as (_, pod):
        yield pod


@pytest.fixture(scope="session")
def shared_container(
    request: pytest.FixtureRequest,
    cri: CriClient,
    tmp_path_factory: pytest.TempPathFactory,
    images: ImageCatalog,
    cri_session: CriSession,
    removal_queue: RemovalQueue,
) -> Iterator[Container]:
    """A running default container (busybox, ``sleep``) for tests that only run commands in
    it and leave nothing behind; in a pod of its own."""
    named = "shared-container"
    with _session_pod(request, cri, tmp_path_factory, removal_queue, named) as (context, pod):
        yield ContainerFactory(context, images, cri_session.puller)(pod, "shared")
