"""The timed CRI calls: one pod and container lifecycle, the image calls, and a whole pod.

Every object is made with the harness's builders, so it carries the bench's run label, and is
added to a ``ResourceTracker`` at once, so a failing round leaves nothing the bench's cleanup
will not find. Before each Stop and Remove the object's own status (the call just timed) must
show the run label (``RunOwnership.owns``): the bench never touches what it did not create.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from cri_api.v1 import api_pb2 as cri

from harness.bench.images import OwnImages
from harness.builders import container_config, pod_config, unique_name
from harness.client import CriClient
from harness.ownership import Foreign, LeftAlone, RunOwnership, RuntimeObject
from harness.resources import ResourceTracker

Result = TypeVar("Result")
TEST = "cri-conformance bench"
POD_OPERATIONS = ("RunPodSandbox", "PodSandboxStatus", "StopPodSandbox", "RemovePodSandbox")
CONTAINER_OPERATIONS = (
    "CreateContainer", "StartContainer", "ContainerStatus", "StopContainer", "RemoveContainer",
)  # fmt: skip
IMAGE_OPERATIONS = ("PullImage", "ImageStatus", "RemoveImage")
LIST_OPERATIONS = ("ListPodSandbox", "ListContainers", "ListImages")
OPERATIONS = POD_OPERATIONS + CONTAINER_OPERATIONS + IMAGE_OPERATIONS + LIST_OPERATIONS


@dataclass
class Timings:
    """Seconds per call, by operation name."""

    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def timed(self, operation: str, call: Callable[[], Result]) -> Result:
        started = time.perf_counter()
        result = call()
        self.samples[operation].append(time.perf_counter() - started)
        return result


@dataclass(frozen=True)
class Workload:
    """What every round needs: the runtime, the run's mark and the container image."""

    client: CriClient
    ownership: RunOwnership
    image: str
    runtime_handler: str = ""

    def tracker(self) -> ResourceTracker:
        return ResourceTracker(self.client, self.ownership)

    def pod_config(self) -> cri.PodSandboxConfig:
        return pod_config(unique_name("bench"), run_id=self.ownership.run_id, test=TEST)

    def container_config(self) -> cri.ContainerConfig:
        return container_config(
            "sleeper", self.image, run_id=self.ownership.run_id, test=TEST, command=["sleep", "600"]
        )


def list_calls(work: Workload) -> dict[str, Callable[[], object]]:
    """The pod and container list calls, filtered on the run label as the kubelet filters."""
    selector = work.ownership.labels
    return {
        "ListPodSandbox": lambda: work.client.list_pods(
            cri.PodSandboxFilter(label_selector=selector)
        ),
        "ListContainers": lambda: work.client.list_containers(
            cri.ContainerFilter(label_selector=selector)
        ),
    }


def _check_owned(ownership: RunOwnership, kind: str, found: RuntimeObject) -> None:
    """Stop here, touching nothing, when the runtime's status lacks the run label."""
    if not ownership.owns(found):
        raise LeftAlone([Foreign.of(kind, found)])


def lifecycle(work: Workload, tracker: ResourceTracker, timings: Timings) -> None:
    """One pod with one container, through every pod, container and list call."""
    client, ownership = work.client, work.ownership
    pod = work.pod_config()
    pod_id = timings.timed("RunPodSandbox", lambda: client.run_pod(pod, work.runtime_handler))
    tracker.add_pod(pod_id)
    pod_status = timings.timed("PodSandboxStatus", lambda: client.pod_status(pod_id)).status
    config = work.container_config()
    container_id = timings.timed(
        "CreateContainer", lambda: client.create_container(pod_id, config, pod)
    )
    tracker.add_container(container_id)
    timings.timed("StartContainer", lambda: client.start_container(container_id))
    status = timings.timed("ContainerStatus", lambda: client.container_status(container_id))
    for operation, call in list_calls(work).items():
        timings.timed(operation, call)
    timings.timed("ListImages", client.list_images)
    _check_owned(ownership, "container", status.status)
    timings.timed("StopContainer", lambda: client.stop_container(container_id, timeout=0))
    timings.timed("RemoveContainer", lambda: client.remove_container(container_id))
    _check_owned(ownership, "pod", pod_status)
    timings.timed("StopPodSandbox", lambda: client.stop_pod(pod_id))
    timings.timed("RemovePodSandbox", lambda: client.remove_pod(pod_id))


def image_round(client: CriClient, own: OwnImages, image: str, timings: Timings) -> None:
    """PullImage, ImageStatus and RemoveImage of one of the run's own images (images.py):
    the status must show it is wholly the run's before it is removed."""
    timings.timed("PullImage", lambda: client.pull_image(image))
    status = timings.timed("ImageStatus", lambda: client.image_status(image))
    own.check(status.image)
    timings.timed("RemoveImage", lambda: client.remove_image(image))


def pod_with_container(work: Workload) -> None:
    """A whole pod's life, for throughput: run, create, start, then stop and remove it all."""
    tracker = work.tracker()
    try:
        lifecycle(work, tracker, Timings())
    finally:
        tracker.cleanup().settle()


def created_pod(work: Workload, tracker: ResourceTracker) -> None:
    """A running pod with a created (not started) container: one more object to list."""
    pod = work.pod_config()
    pod_id = work.client.run_pod(pod, work.runtime_handler)
    tracker.add_pod(pod_id)
    tracker.add_container(work.client.create_container(pod_id, work.container_config(), pod))
