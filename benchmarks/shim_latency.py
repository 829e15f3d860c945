"""Latency of the reference shim next to the raw Docker SDK calls it makes.

    python benchmarks/shim_latency.py [--iterations 20] [--strategy reject|shared-vm|separate-vms]

Starts the shim (Docker backend, strategy reject by default) through its launcher, then runs
the same pod + container lifecycle twice per iteration: through CRI, and as the bare Docker
calls the shim makes for each RPC (those of strategy reject, plus a network of the pod's own
under separate-vms, made with the pod and removed with it). Prints p50 and p99 per step and
the shim/Docker ratio of the p50s (percentiles as ``cri-conformance bench`` computes them:
that command compares CRI runtimes with each other, this script the shim with its own
backend). It also times Version, an RPC that makes no engine call: the gRPC round trip every
CRI call pays on top of its engine calls, the floor of a call the shim answers from its
records. The raw round waits for the shim's removed pod to leave Docker first (the shim
removes it after RemovePodSandbox answered), so the two never share the engine. Everything it
creates carries a run label of its own and is removed at the end;
cleanup removes only what carries that label, checked on this side (see harness.ownership).
All traffic stays on this machine.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import docker
from cri_api.v1 import api_pb2 as cri

from harness.bench.stats import percentile
from harness.client import CriClient
from harness.endpoints import Endpoints
from harness.ownership import RUN_LABEL, RunOwnership, new_run_id
from harness.resources import ResourceTracker
from reference_shim.backends.docker.exec_stream import read_all
from reference_shim.backends.docker.host import docker_host
from reference_shim.backends.labels import INSTANCE_LABEL, POD_ID_LABEL
from reference_shim.config import DEFAULT_POD_IMAGE
from reference_shim.launcher import ShimLauncher
from reference_shim.strategies import STRATEGIES

BUSYBOX = "127.0.0.1:5000/cri-conformance/busybox:1.0"
STEPS = ("pod+container start", "RunPodSandbox", "CreateContainer", "StartContainer",
         "ContainerStatus", "PodSandboxStatus", "ListContainers", "ListPodSandbox", "ExecSync",
         "StopContainer", "RemoveContainer", "StopPodSandbox", "RemovePodSandbox")  # fmt: skip
Timings = dict[str, list[float]]
TEARDOWN_WAIT_S = 60.0


def timed(timings: Timings, step: str, call: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = call()
    timings[step].append(time.perf_counter() - started)
    return result


def shim_round(tracker: ResourceTracker, number: int, timings: Timings) -> None:
    """One CRI lifecycle; the tracker removes what a failing round left."""
    client, labels = tracker.client, tracker.ownership.labels
    pod = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(
            name=f"bench-{number}", namespace="bench", uid=f"u{number}"
        ),
        labels=labels,
    )
    container = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="sleeper"),
        image=cri.ImageSpec(image=BUSYBOX),
        command=["sleep", "1000"],
        labels=labels,
    )
    started = time.perf_counter()
    pod_id = timed(timings, "RunPodSandbox", lambda: client.run_pod(pod))
    tracker.add_pod(pod_id)
    container_id = timed(
        timings, "CreateContainer", lambda: client.create_container(pod_id, container, pod)
    )
    tracker.add_container(container_id)
    timed(timings, "StartContainer", lambda: client.start_container(container_id))
    timings["pod+container start"].append(time.perf_counter() - started)
    timed(timings, "Version", client.version)
    timed(timings, "ContainerStatus", lambda: client.container_status(container_id))
    timed(timings, "PodSandboxStatus", lambda: client.pod_status(pod_id))
    timed(
        timings,
        "ListContainers",
        lambda: client.list_containers(cri.ContainerFilter(label_selector=labels)),
    )
    timed(
        timings,
        "ListPodSandbox",
        lambda: client.list_pods(cri.PodSandboxFilter(label_selector=labels)),
    )
    timed(timings, "ExecSync", lambda: client.exec_sync(container_id, ["true"], timeout=10))
    timed(timings, "StopContainer", lambda: client.stop_container(container_id, timeout=0))
    timed(timings, "RemoveContainer", lambda: client.remove_container(container_id))
    timed(timings, "StopPodSandbox", lambda: client.stop_pod(pod_id))
    timed(timings, "RemovePodSandbox", lambda: client.remove_pod(pod_id))


def docker_round(
    api: Any, network: str, labels: dict[str, str], timings: Timings, own_network: bool
) -> None:
    """The Docker calls the shim makes for each RPC, without the CRI layer around them;
    ``own_network``: the pod VM gets a network of its own (strategy separate-vms)."""
    pod_network = f"{network}-{secrets.token_hex(6)}" if own_network else network

    def run_pod() -> str:
        if own_network:
            api.create_network(pod_network, driver="bridge", labels=labels, check_duplicate=True)
        host_config = api.create_host_config(network_mode=pod_network, ipc_mode="shareable")
        pod = api.create_container(DEFAULT_POD_IMAGE, labels=labels, host_config=host_config)
        api.start(pod)
        api.inspect_container(pod)
        return str(pod["Id"])

    def create(pod_id: str) -> str:
        image_id = api.inspect_image(BUSYBOX)["Id"]
        joined = f"container:{pod_id}"
        host_config = api.create_host_config(network_mode=joined, ipc_mode=joined, pid_mode=joined)
        created = api.create_container(
            image_id, entrypoint=["sleep"], command=["1000"], labels=labels, host_config=host_config
        )
        return str(created["Id"])

    def exec_true(container_id: str) -> None:
        exec_id = api.exec_create(container_id, ["true"])["Id"]
        read_all(api.exec_start(exec_id, socket=True))
        api.exec_inspect(exec_id)

    started = time.perf_counter()
    pod_id = timed(timings, "RunPodSandbox", run_pod)
    container_id = timed(timings, "CreateContainer", lambda: create(pod_id))
    timed(
        timings,
        "StartContainer",
        lambda: (api.start(container_id), api.inspect_container(container_id)),
    )
    timings["pod+container start"].append(time.perf_counter() - started)
    timed(timings, "ContainerStatus", lambda: api.inspect_container(container_id))
    timed(timings, "PodSandboxStatus", lambda: api.inspect_container(pod_id))
    listed = {"label": f"{RUN_LABEL}={labels[RUN_LABEL]}"}
    timed(timings, "ListContainers", lambda: api.containers(all=True, filters=listed))
    timed(timings, "ListPodSandbox", lambda: api.containers(all=True, filters=listed))
    timed(timings, "ExecSync", lambda: exec_true(container_id))
    timed(
        timings,
        "StopContainer",
        lambda: (api.stop(container_id, timeout=0), api.inspect_container(container_id)),
    )
    timed(timings, "RemoveContainer", lambda: api.remove_container(container_id, force=True))
    timed(timings, "StopPodSandbox", lambda: api.stop(pod_id, timeout=2))

    def remove_pod() -> None:
        api.remove_container(pod_id, force=True)
        if own_network:
            api.remove_network(pod_network)

    timed(timings, "RemovePodSandbox", remove_pod)


def shim_instance(client: CriClient, api: Any) -> str:
    """The shim instance's label value, from its shared network (verbose Status names it)."""
    shared = json.loads(client.status(verbose=True).info["info"])["network"]
    return str(api.inspect_network(shared)["Labels"][INSTANCE_LABEL])


def wait_for_teardowns(api: Any, instance: str) -> None:
    """Until the shim's removed pods have left Docker: their teardown runs after
    RemovePodSandbox answered, and the raw round must not share the engine with it."""
    owned = f"{INSTANCE_LABEL}={instance}"
    deadline = time.monotonic() + TEARDOWN_WAIT_S
    while time.monotonic() < deadline and (
        api.containers(all=True, filters={"label": owned})
        or api.networks(filters={"label": [owned, POD_ID_LABEL]})
    ):
        time.sleep(0.05)


def remove_docker_leftovers(api: Any, ownership: RunOwnership, name: str) -> None:
    """The Docker containers and pod networks a failed round left; each one's own labels are
    checked first."""
    selector = {"label": f"{RUN_LABEL}={ownership.run_id}"}
    for leftover in api.containers(all=True, filters=selector):
        if ownership.owns_labels(leftover.get("Labels") or {}):
            api.remove_container(leftover["Id"], force=True)
    for network in api.networks(filters=selector):
        if ownership.owns_labels(network.get("Labels") or {}) and network["Name"] != name:
            api.remove_network(network["Id"])


def report(shim: Timings, raw: Timings) -> None:
    versions = shim["Version"]
    print(
        f"gRPC round trip (Version, no engine call): p50 {statistics.median(versions) * 1000:.2f}ms"
        f" p99 {percentile(versions, 99) * 1000:.2f}ms"
    )
    print(
        f"{'step':<22}{'shim p50':>10}{'shim p99':>10}{'docker p50':>12}{'docker p99':>12}"
        f"{'ratio p50':>11}"
    )
    for step in STEPS:
        shim_p50, raw_p50 = statistics.median(shim[step]), statistics.median(raw[step])
        print(
            f"{step:<22}{shim_p50 * 1000:>8.2f}ms{percentile(shim[step], 99) * 1000:>8.2f}ms"
            f"{raw_p50 * 1000:>10.2f}ms{percentile(raw[step], 99) * 1000:>10.2f}ms"
            f"{shim_p50 / raw_p50:>10.2f}x"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--strategy", choices=tuple(STRATEGIES), default="reject")
    args = parser.parse_args()
    ownership = RunOwnership(new_run_id())
    api = docker.APIClient(base_url=docker_host(), version="auto")
    network = f"cri-shim-benchmark-{ownership.run_id}"
    api.create_network(network, labels=ownership.labels)
    own_network = args.strategy == "separate-vms"
    shim_timings: Timings = defaultdict(list)
    raw_timings: Timings = defaultdict(list)
    try:
        with ShimLauncher(backend="docker", strategy=args.strategy) as launcher:
            client = CriClient(Endpoints(launcher.endpoint, launcher.endpoint, "bench"), 60)
            tracker = ResourceTracker(client, ownership)
            try:
                client.connect()
                client.pull_image(BUSYBOX)
                instance = shim_instance(client, api)
                shim_round(tracker, -1, defaultdict(list))  # warm-up: pause image, caches
                wait_for_teardowns(api, instance)
                docker_round(api, network, ownership.labels, defaultdict(list), own_network)
                for number in range(args.iterations):
                    shim_round(tracker, number, shim_timings)
                    wait_for_teardowns(api, instance)
                    docker_round(api, network, ownership.labels, raw_timings, own_network)
            finally:
                tracker.cleanup().settle()
                client.close()
    finally:
        remove_docker_leftovers(api, ownership, network)
        api.remove_network(network)
    print(f"{args.iterations} iterations, strategy {args.strategy}, Docker at {docker_host()}")
    report(shim_timings, raw_timings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
