"""One spec on one runtime: run it as far as the runtime accepts it, observe, remove it all.

The pod and its containers are made in a ``Lab`` (``harness.properties.lab``), which tracks
each object as soon as the runtime names it and removes them all at the end, each only once
its own status shows the run's label (``harness.resources``). The one other call that changes
an object, the StopContainer the observation includes, checks that label first too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cri_api.v1 import api_pb2 as cri

from harness.client import BadAnswer, CallFailed, CriClient, CriError, NoAnswer
from harness.cri_logs import (
    LogFormatError,
    LogRecord,
    log_file,
    read_records,
    wait_for_records,
)
from harness.diff.generated import OUTPUT_LINES, instance
from harness.diff.inside import SHARES, look_inside, namespace_sharing
from harness.diff.observation import (
    ACCEPTED,
    ContainerObservation,
    Fields,
    Observation,
    message_fields,
)
from harness.factories import Container, ImagePuller, Pod
from harness.ownership import Foreign, LeftAlone, RunOwnership
from harness.properties.lab import Lab, LabCleanupFailed, lab, prepare_volumes
from harness.properties.spec_files import Spec
from harness.properties.specs import Owner

T = TypeVar("T")
TEST = "cri-conformance diff"
STOP_GRACE = 1  # seconds StopContainer gives the process after its stop signal
LOG_WAIT = 10.0


@dataclass(frozen=True)
class Side:
    """One runtime of the pair: its name, client, and where its instances' files go."""

    name: str
    client: CriClient
    puller: ImagePuller
    run_id: str
    scratch: Path
    runtime_handler: str = ""


def outcome_of(error: CriError) -> str:
    """How a refused step is recorded: its gRPC code, or what kind of non-answer it got."""
    if isinstance(error, CallFailed):
        return error.code.name
    if isinstance(error, NoAnswer):
        return "NO_ANSWER"
    if isinstance(error, BadAnswer):
        return "BAD_ANSWER"
    raise error  # the runtime is gone (EndpointUnavailable): nothing more can be compared


def attempt(steps: dict[str, str], step: str, call: Callable[[], T]) -> T | None:
    """Make one call, recording whether it was accepted; its result, or None if refused."""
    try:
        result = call()
    except CriError as error:
        steps[step] = outcome_of(error)
        return None
    steps[step] = ACCEPTED
    return result


def observe(side: Side, spec: Spec, areas: frozenset[str]) -> Observation:
    """What ``side`` shows for an instance of ``spec``; every object it made is removed."""
    owned = instance(spec, side.run_id, TEST, side.scratch)
    folder = Path(owned.volume_root).parent
    owner = Owner(side.run_id, TEST, str(folder / "logs"), owned.volume_root)
    observation = Observation()
    try:
        with lab(side.client, side.puller, owner, side.runtime_handler) as scope:
            _Run(scope, observation, areas).spec(owned)
        observation.steps["cleanup"] = ACCEPTED
    except LabCleanupFailed:
        observation.steps["cleanup"] = "FAILED"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return observation


@dataclass
class _Run:
    scope: Lab
    observation: Observation
    areas: frozenset[str]

    @property
    def client(self) -> CriClient:
        return self.scope.client

    def spec(self, spec: Spec) -> None:
        prepare_volumes(spec)
        placeholders = self.observation.placeholders
        placeholders.update(
            {
                spec.pod.metadata.name: "<pod-name>",
                spec.pod.metadata.uid: "<pod-uid>",
                spec.pod.log_directory: "<log-directory>",
                spec.volume_root: "<volume-root>",
            }
        )
        steps = self.observation.steps
        pod = attempt(steps, "RunPodSandbox", lambda: self.scope.run_pod(spec.pod))
        if pod is None:
            return
        placeholders[pod.id] = "<pod-id>"
        status = attempt(steps, "PodSandboxStatus", lambda: self.client.pod_status(pod.id))
        if status is not None:
            network = status.status.network
            for address in [network.ip, *(extra.ip for extra in network.additional_ips)]:
                placeholders.setdefault(address, "<pod-ip>")
            if "status" in self.areas:
                self.observation.pod = message_fields(status.status)
        created = [
            self._create(pod, number, config) for number, config in enumerate(spec.containers)
        ]
        running = [self._status(container, seen) for container, seen in created]
        links = [
            self._inside(container, seen) if up else {}
            for (container, seen), up in zip(created, running, strict=True)
        ]
        if "namespaces" in self.areas:
            for (_, seen), shared in zip(created, namespace_sharing(links), strict=True):
                if seen.inside:
                    seen.inside[SHARES] = shared
        if "logs" in self.areas:
            for (container, seen), up in zip(created, running, strict=True):
                if up and container is not None:
                    seen.logs = _logs(container)
        for container, seen in created:
            if container is not None:
                self._stop(container, seen)

    def _create(
        self, pod: Pod, number: int, config: cri.ContainerConfig
    ) -> tuple[Container | None, ContainerObservation]:
        seen = ContainerObservation()
        self.observation.containers.append(seen)
        container = attempt(seen.steps, "CreateContainer", lambda: self.scope.create(pod, config))
        if container is not None:
            self.observation.placeholders[container.id] = f"<container-id-{number}>"
            attempt(seen.steps, "StartContainer", lambda: self.client.start_container(container.id))
        return container, seen

    def _status(self, container: Container | None, seen: ContainerObservation) -> bool:
        """Read the status (kept when the area is chosen); whether the container runs."""
        if container is None:
            return False
        status = attempt(
            seen.steps, "ContainerStatus", lambda: self.client.container_status(container.id)
        )
        if status is None:
            return False
        fields = message_fields(status.status)
        seen.status = fields if "status" in self.areas else {"state": fields.get("state")}
        return status.status.state == cri.CONTAINER_RUNNING

    def _inside(self, container: Container | None, seen: ContainerObservation) -> dict[str, str]:
        if container is None:
            return {}
        try:
            seen.inside, links = look_inside(self.client, container.id, container.name, self.areas)
        except CriError as error:
            seen.inside = {"probe_error": outcome_of(error)}
            return {}
        return links

    def _stop(self, container: Container, seen: ContainerObservation) -> None:
        """StopContainer, once the container's status shows it is the run's; then how it
        ended: state, exit code, reason."""
        before = attempt(
            seen.steps, "ContainerStatus", lambda: self.client.container_status(container.id)
        )
        if before is None:
            return
        if not RunOwnership(self.scope.context.run_id).owns(before.status):
            raise LeftAlone([Foreign.of("container", before.status)])
        stop = lambda: self.client.stop_container(container.id, timeout=STOP_GRACE)  # noqa: E731
        attempt(seen.steps, "StopContainer", stop)
        after = attempt(
            seen.steps, "ContainerStatus", lambda: self.client.container_status(container.id)
        )
        if seen.steps["StopContainer"] == ACCEPTED and after is not None:
            fields = message_fields(after.status)
            seen.stopped = {key: fields.get(key) for key in ("state", "exit_code", "reason")}


def _logs(container: Container) -> Fields:
    """The CRI log records of each stream as ``[tag, text]``, once the fixed output is there
    (or after LOG_WAIT seconds, as far as it got)."""
    try:
        records = _records(log_file(container))
    except LogFormatError:
        return {"error": "a line of the log file is not in the CRI log format"}
    return {
        stream: [[r.tag, r.text] for r in records if r.stream == stream] for stream in OUTPUT_LINES
    }


def _records(path: Path) -> list[LogRecord]:
    def complete(records: list[LogRecord]) -> bool:
        return all(
            sum(1 for r in records if r.stream == stream and r.tag == "F") >= count
            for stream, count in OUTPUT_LINES.items()
        )

    try:
        return wait_for_records(path, complete, "the fixed output", timeout=LOG_WAIT)
    except LogFormatError:
        raise
    except AssertionError:  # timed out: what is there is what the runtime wrote
        return read_records(path)
