"""One example's objects on the runtime, removed when the example ends.

Hypothesis runs many examples inside one call of a test function, so the test's own
fixtures (and their tracker) outlive every example. A ``Lab`` is the per-example scope: it
tracks what one example creates and removes it before the next example starts.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cri_api.v1 import api_pb2 as cri

from harness.client import CriClient
from harness.factories import (
    Container,
    ImagePuller,
    Pod,
    PodFactory,
    RunContext,
    create_container,
)
from harness.ownership import LeftAlone, RunOwnership
from harness.properties.spec_files import Spec
from harness.properties.specs import Owner
from harness.resources import Later, ResourceTracker


class LabCleanupFailed(AssertionError):
    """What an example created could not all be removed."""


class Lab:
    """Runs pods and containers from configs as given, tracking each one."""

    def __init__(self, context: RunContext, puller: ImagePuller) -> None:
        self.context = context
        self.client: CriClient = context.client
        self._puller = puller
        self._pods = PodFactory(context)

    def run_pod(self, config: cri.PodSandboxConfig) -> Pod:
        return self._pods.run(config)

    def create(self, pod: Pod, config: cri.ContainerConfig, pull: bool = True) -> Container:
        """Create (and track) a container; ``pull=False`` sends the config exactly as it is,
        for images that must not or cannot be pulled."""
        return create_container(self.context, self._puller if pull else None, pod, config)

    def start(self, pod: Pod, config: cri.ContainerConfig) -> Container:
        container = self.create(pod, config)
        self.client.start_container(container.id)
        return container

    def pull(self, image: str) -> None:
        self._puller.ensure(image)

    def run_spec(self, spec: Spec) -> tuple[Pod, list[Container]]:
        """Run the spec's pod and start every container in it, in order."""
        prepare_volumes(spec)
        pod = self.run_pod(spec.pod)
        return pod, [self.start(pod, config) for config in spec.containers]


def prepare_volumes(spec: Spec) -> None:
    """Fresh host folders for the spec's mounts, each holding a file naming its folder."""
    for config in spec.containers:
        for mount in config.mounts:
            folder = Path(mount.host_path)
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            (folder / "origin").write_text(f"{folder.name}\n")


@contextmanager
def lab(
    client: CriClient,
    puller: ImagePuller,
    owner: Owner,
    runtime_handler: str = "",
    later: Later | None = None,
) -> Iterator[Lab]:
    """A Lab whose objects are removed on exit, pass or fail.

    A failed cleanup fails an example that passed; an object left alone (not the run's) fails
    it either way, since it is the runtime's fault and nothing else will report it. Given
    ``later``, the statuses are still read on exit, but the pods are stopped and removed by
    ``later``, which reports what that came to (``PropertyRunner``).
    """
    tracker = ResourceTracker(client, RunOwnership(owner.run_id), later)
    context = RunContext(
        client=client,
        tracker=tracker,
        run_id=owner.run_id,
        test=owner.test,
        log_root=Path(owner.log_root),
        runtime_handler=runtime_handler,
    )
    failed = False
    try:
        yield Lab(context, puller)
    except BaseException:
        failed = True
        raise
    finally:
        outcome = tracker.cleanup()
        if outcome.left_alone:
            raise LeftAlone(outcome.left_alone)
        if outcome.errors and not failed:
            raise LabCleanupFailed("; ".join(outcome.errors))
