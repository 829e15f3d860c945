"""Load on the reference shim: many pods at once, then many create/remove cycles in a row.

    python benchmarks/shim_load.py [--pods 200] [--concurrency 50] [--cycles 1000]
                                   [--strategy shared-vm] [--rss-growth-mib 8] [--fd-growth 4]
                                   [--thread-growth 2]

Starts the shim (Docker backend) on a state dir of its own, then:

1. ``--pods`` pods at once, ``--concurrency`` at a time, each RunPodSandbox + CreateContainer +
   StartContainer (a container that logs to a file); then all removed the same way
   (StopPodSandbox + RemovePodSandbox). Prints p50/p99 of each step.
2. ``--cycles`` create/remove cycles one after another, with the shim's resident memory (RSS),
   open file descriptors and threads read from /proc at the start (after a warm-up) and the
   end, and every tenth of the way.

After each phase nothing may be left: no pod or container in the shim, no Docker container or
pod network of the shim's instance, no per-pod files in its state dir. Exits 1 when an RPC
failed, something leaked, or a figure grew beyond its bound (the bounds and why they are what
they are: README, "Robustness"). Everything carries a run label of its own and is removed at
the end, each object's label checked first (harness.ownership). All traffic stays on this
machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from cri_api.v1 import api_pb2 as cri

from harness.client import CriClient, CriError
from harness.endpoints import Endpoints
from harness.ownership import RunOwnership, new_run_id
from harness.resources import sweep
from reference_shim.backends.docker.host import docker_host
from reference_shim.backends.labels import INSTANCE_LABEL
from reference_shim.launcher import ShimLauncher

BUSYBOX = "127.0.0.1:5000/cri-conformance/busybox:1.0"
RPC_TIMEOUT_S = 120  # the kubelet's default runtime-request-timeout is 2 minutes
# Removed pods' VMs and networks go after RemovePodSandbox answered (reference_shim.cri.
# teardowns): a leak is what is still there this long after the last removal.
TEARDOWN_S = 60.0
Timings = dict[str, list[float]]


@dataclass(frozen=True)
class Sample:
    """The shim process as /proc shows it."""

    rss_kib: int
    fds: int
    threads: int

    @classmethod
    def of(cls, pid: int) -> Sample:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        return cls(
            rss_kib=int(fields["VmRSS"].split()[0]),
            fds=len(list(Path(f"/proc/{pid}/fd").iterdir())),
            threads=int(fields["Threads"]),
        )

    def __str__(self) -> str:
        return f"RSS {self.rss_kib / 1024:.1f} MiB, {self.fds} fds, {self.threads} threads"


class Load:
    """One shim under load: the pods it makes, what each step took, what went wrong."""

    def __init__(self, client: CriClient, ownership: RunOwnership, logs: Path) -> None:
        self.client = client
        self.ownership = ownership
        self.logs = logs
        self.timings: Timings = defaultdict(list)
        self.errors: list[str] = []

    def _timed(self, step: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = call()
        self.timings[step].append(time.perf_counter() - started)
        return result

    def start_pod(self, number: int) -> str | None:
        """RunPodSandbox + CreateContainer + StartContainer; the pod's id, None when it was not
        made (a pod whose container failed is returned: it is to be removed all the same)."""
        name = f"load-{number}"
        pod = cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name=name, namespace="load", uid=f"uid-{name}"),
            log_directory=str(self.logs / name),
            labels=self.ownership.labels,
        )
        container = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="sleeper"),
            image=cri.ImageSpec(image=BUSYBOX),
            command=["sh", "-c", "echo up; exec sleep 3600"],
            log_path="sleeper.log",
            labels=self.ownership.labels,
        )
        started = time.perf_counter()
        try:
            pod_id: str = self._timed("RunPodSandbox", lambda: self.client.run_pod(pod))
        except CriError as error:
            self.errors.append(f"pod {name}: {error}")
            return None
        try:
            container_id = self._timed(
                "CreateContainer", lambda: self.client.create_container(pod_id, container, pod)
            )
            self._timed("StartContainer", lambda: self.client.start_container(container_id))
        except CriError as error:
            self.errors.append(f"pod {name}: {error}")
            return pod_id
        self.timings["pod ready (3 RPCs)"].append(time.perf_counter() - started)
        return pod_id

    def remove_pod(self, pod_id: str) -> None:
        started = time.perf_counter()
        try:
            self._timed("StopPodSandbox", lambda: self.client.stop_pod(pod_id))
            self._timed("RemovePodSandbox", lambda: self.client.remove_pod(pod_id))
        except CriError as error:
            self.errors.append(f"remove pod {pod_id[:13]}: {error}")
            return
        self.timings["pod removed (2 RPCs)"].append(time.perf_counter() - started)

    def cycle(self, number: int) -> None:
        pod_id = self.start_pod(number)
        if pod_id is not None:
            self.remove_pod(pod_id)


# -- leaks ------------------------------------------------------------------------------


def leaks(client: CriClient, api: Any, state_dir: Path) -> list[str]:
    """What is left once every pod was removed and its teardown had time to end."""
    deadline = time.monotonic() + TEARDOWN_S
    while True:
        found = left(client, api, state_dir)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def left(client: CriClient, api: Any, state_dir: Path) -> list[str]:
    """What is left now: in the shim, in Docker, in the state dir."""
    found = [f"pod {pod.metadata.name} ({pod.id[:13]}) in the shim" for pod in client.list_pods()]
    found += [f"container {c.id[:13]} in the shim" for c in client.list_containers()]
    shared = json.loads(client.status(verbose=True).info["info"])["network"]
    instance = api.inspect_network(shared)["Labels"][INSTANCE_LABEL]
    selector = {"label": f"{INSTANCE_LABEL}={instance}"}
    found += [
        f"Docker container {c['Names'][0]}" for c in api.containers(all=True, filters=selector)
    ]
    found += [
        f"Docker network {n['Name']}" for n in api.networks(filters=selector) if n["Name"] != shared
    ]
    pod_files = state_dir / "pods"
    if pod_files.is_dir():
        found += [f"state dir files of pod {entry.name}" for entry in pod_files.iterdir()]
    return found


# -- the report -------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def print_timings(title: str, timings: Timings) -> None:
    print(f"{title}\n  {'step':<22}{'count':>7}{'p50':>10}{'p99':>10}{'max':>10}")
    for step, values in timings.items():
        print(
            f"  {step:<22}{len(values):>7}{statistics.median(values) * 1000:>8.0f}ms"
            f"{percentile(values, 0.99) * 1000:>8.0f}ms{max(values) * 1000:>8.0f}ms"
        )


def growth_problems(start: Sample, end: Sample, args: argparse.Namespace) -> list[str]:
    bounds = (
        ("RSS", (end.rss_kib - start.rss_kib) / 1024, args.rss_growth_mib, "MiB"),
        ("open fds", end.fds - start.fds, args.fd_growth, ""),
        ("threads", end.threads - start.threads, args.thread_growth, ""),
    )
    return [
        f"{name} grew by {grew:g}{unit}, more than the bound of {bound:g}{unit}"
        for name, grew, bound, unit in bounds
        if grew > bound
    ]


# -- the phases -------------------------------------------------------------------------


def concurrent_phase(load: Load, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency, thread_name_prefix="load") as pool:
        pod_ids = [p for p in pool.map(load.start_pod, range(args.pods)) if p is not None]
        ready = time.perf_counter() - started
        list(pool.map(load.remove_pod, pod_ids))
    print(
        f"phase 1: {len(pod_ids)}/{args.pods} pods running at once (concurrency "
        f"{args.concurrency}) after {ready:.1f} s; all removed after "
        f"{time.perf_counter() - started:.1f} s"
    )
    print_timings("phase 1 timings", load.timings)


def cycle_phase(load: Load, args: argparse.Namespace, pid: int) -> tuple[Sample, Sample]:
    for number in range(args.warm_up):
        load.cycle(-1 - number)
    load.timings.clear()
    start = Sample.of(pid)
    print(f"phase 2: {args.cycles} cycles; at the start (after {args.warm_up} warm-up): {start}")
    step = max(1, args.cycles // 10)
    began = time.perf_counter()
    for number in range(args.cycles):
        load.cycle(args.pods + number)
        if (number + 1) % step == 0:
            print(f"  after {number + 1:>5} cycles ({time.perf_counter() - began:6.0f} s): "
                  f"{Sample.of(pid)}")  # fmt: skip
    end = Sample.of(pid)
    print(f"phase 2: at the end: {end}")
    print_timings("phase 2 timings", load.timings)
    return start, end


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument(
        "--warm-up",
        type=int,
        default=20,
        help="cycles before the first sample (they fill the shim's thread and connection pools)",
    )
    parser.add_argument("--strategy", default="shared-vm")
    parser.add_argument("--rss-growth-mib", type=float, default=8.0)
    parser.add_argument("--fd-growth", type=int, default=4)
    parser.add_argument("--thread-growth", type=int, default=2)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    ownership = RunOwnership(new_run_id())
    api = docker.APIClient(base_url=docker_host(), version="auto")
    problems: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="shim-load-") as logs,
        ShimLauncher(strategy=args.strategy, log_level="warning") as launcher,
    ):
        assert launcher.pid is not None
        client = CriClient(Endpoints(launcher.endpoint, launcher.endpoint, "load"), RPC_TIMEOUT_S)
        client.connect()
        client.pull_image(BUSYBOX)
        load = Load(client, ownership, Path(logs))
        print(f"shim pid {launcher.pid}, strategy {args.strategy}: {Sample.of(launcher.pid)}")
        try:
            concurrent_phase(load, args)
            problems += [
                f"leak after phase 1: {leak}" for leak in leaks(client, api, launcher.state_dir)
            ]
            start, end = cycle_phase(load, args, launcher.pid)
            problems += [
                f"leak after phase 2: {leak}" for leak in leaks(client, api, launcher.state_dir)
            ]
            problems += growth_problems(start, end, args)
        finally:
            swept = sweep(client, ownership)
            client.close()
        problems += [f"error: {error}" for error in load.errors]
        problems += [f"left at the end: {leak.describe()}" for leak in swept.leaks]
    print(f"{len(load.errors)} errors, {len(problems) - len(load.errors)} leaks or growths")
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
