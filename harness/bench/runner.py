"""One target's bench: latency rounds, throughput at each concurrency, and list scaling.

Everything the bench makes carries one run label; the tracker of each round removes what the
round made, and the sweep at the end of a target removes (and reports) whatever is still
labelled, exactly as the suite's session does (``harness.resources``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from tqdm import tqdm

from harness import targets
from harness.bench import operations
from harness.bench.images import OwnImages
from harness.bench.operations import Timings, Workload
from harness.client import CriClient
from harness.matrix.runner import Target
from harness.ownership import RunOwnership
from harness.resources import sweep

Step = Callable[[], object]  # one unit of work done: the progress bar's update


@dataclass(frozen=True)
class Settings:
    """How much to measure; the defaults keep a bench of one target to a minute or two."""

    image: str
    pod_image: str  # the embedded shim's pod VM image (the test pause image)
    samples: int = 20
    throughput_pods: int = 8
    concurrency: tuple[int, ...] = (1, 4, 16)
    scale_counts: tuple[int, ...] = (10, 50)
    scale_samples: int = 10
    timeout: float = 60.0
    runtime_handler: str = ""


@dataclass(frozen=True)
class Throughput:
    concurrency: int
    pods: int
    seconds: float


@dataclass(frozen=True)
class Scaling:
    """``samples`` of ``operation`` with ``objects`` pods (each with a container) present."""

    operation: str
    objects: int
    samples: list[float]


@dataclass
class TargetResult:
    name: str
    endpoint: str
    runtime: str
    latency: dict[str, list[float]]
    throughput: list[Throughput] = field(default_factory=list)
    scaling: list[Scaling] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _steps(settings: Settings) -> int:
    """Units of work, for the progress bar: rounds, pods, and objects made or listed."""
    scaling = (
        max(settings.scale_counts, default=0) + len(settings.scale_counts) * settings.scale_samples
    )
    return settings.samples + settings.throughput_pods * len(settings.concurrency) + scaling


def bench_target(
    target: Target, settings: Settings, run: RunOwnership, own: OwnImages
) -> TargetResult:
    """Bench one target from start to sweep; the embedded shim lives just as long."""
    with targets.connected(target, settings.pod_image, settings.timeout) as client:
        version = client.version()
        result = TargetResult(
            target.name,
            target.endpoint,
            f"{version.runtime_name} {version.runtime_version}",
            latency={},
        )
        work = Workload(client, run, settings.image, settings.runtime_handler)
        progress = tqdm(total=_steps(settings), desc=target.name, unit="step", disable=None)
        with progress, _swept(client, run, own, result):
            result.latency = _latency(work, own, settings.samples, progress.update)
            result.throughput = [
                _throughput(work, settings.throughput_pods, workers, progress.update)
                for workers in settings.concurrency
            ]
            result.scaling = _scaling(work, own, settings, progress.update)
    return result


@contextmanager
def _swept(
    client: CriClient, run: RunOwnership, own: OwnImages, result: TargetResult
) -> Iterator[None]:
    """Sweep the run's label and images at the end, whatever happened; leftovers become notes."""
    try:
        yield
    finally:
        if left := own.remove_all(client):
            result.notes.append(f"leftover: {left} image(s) of the run, removed")
        swept = sweep(client, run)
        result.notes += [f"leftover {leak.describe()}" for leak in swept.leaks]
        result.notes += [f"left alone {foreign.describe()}" for foreign in swept.left_alone]


def _latency(work: Workload, own: OwnImages, samples: int, step: Step) -> dict[str, list[float]]:
    timings = Timings()
    (image,) = own.push(1)
    operations.image_round(work.client, own, image, Timings())  # warm-up: layers, caches
    operations.pod_with_container(work)  # warm-up: pause image, caches
    for _ in range(samples):
        operations.image_round(work.client, own, image, timings)
        tracker = work.tracker()
        try:
            operations.lifecycle(work, tracker, timings)
        finally:
            tracker.cleanup().settle()
        step()
    return dict(timings.samples)


def _throughput(work: Workload, pods: int, workers: int, step: Step) -> Throughput:
    def one(_: int) -> None:
        operations.pod_with_container(work)
        step()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(pods)))
    return Throughput(workers, pods, time.perf_counter() - started)


def _scaling(work: Workload, own: OwnImages, settings: Settings, step: Step) -> list[Scaling]:
    """Grow the pods (each with a container) and the run's images to each count, then time
    the list calls against them."""
    measured: list[Scaling] = []
    tracker = work.tracker()
    calls = {**operations.list_calls(work), "ListImages": work.client.list_images}
    pulled = 0
    try:
        for count in sorted(settings.scale_counts):
            while len(tracker.pods) < count:
                operations.created_pod(work, tracker)
                step()
            for image in own.push(count - pulled):
                work.client.pull_image(image)
            pulled = count
            timings = Timings()
            for _ in range(settings.scale_samples):
                for operation, call in calls.items():
                    timings.timed(operation, call)
                step()
            measured += [Scaling(op, count, timings.samples[op]) for op in calls]
    finally:
        tracker.cleanup().settle()
        own.remove_all(work.client)
    return measured
