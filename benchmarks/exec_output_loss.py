"""How often an exec of a short command loses output under concurrency.

    python benchmarks/exec_output_loss.py [--execs 5000] [--threads 8] [--via shim,docker-py]
                                          [--max-seconds 1800]

``shim``: starts the reference shim (Docker backend, strategy reject) through its launcher,
runs one pod with a busybox container and sends ``--execs`` ExecSync calls from ``--threads``
threads. ``docker-py``: the same commands on a Docker container of its own through docker-py's
``exec_create`` + ``exec_start(demux=True)``, the calls the shim used to make, which lose the
output Docker sent along with its ``101 UPGRADED`` headers (see reference_shim/backends/docker/
exec_stream.py). The commands: ``cat`` of a file the container wrote at start, ``echo`` of a token
unique to the exec, ``cat /proc/self/status``; each result is checked against what the command
prints. A loaded machine makes losses likelier; the count is bounded by ``--execs`` and time.
Everything created carries a run label of its own and is removed at the end.
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import docker
from cri_api.v1 import api_pb2 as cri

from harness.client import CriClient
from harness.endpoints import Endpoints
from harness.ownership import RUN_LABEL, RunOwnership, new_run_id
from harness.resources import ResourceTracker
from reference_shim.backends.docker.host import docker_host
from reference_shim.launcher import ShimLauncher

BUSYBOX = "127.0.0.1:5000/cri-conformance/busybox:1.0"
ORIGIN = b"".join(b"origin line %d\n" % number for number in range(8))
WRITE_ORIGIN = ["sh", "-c", f"printf '{ORIGIN.decode()}' > /tmp/origin; exec sleep 3600"]
READY_WAIT_S = 60.0
Exec = Callable[[list[str]], tuple[int, bytes]]  # argv -> (exit code, stdout)


def expected_status(stdout: bytes) -> bool:
    """The whole of ``/proc/self/status``: its first line, its uid line, its last line."""
    lines = stdout.splitlines()
    return (
        bool(lines)
        and lines[0] == b"Name:\tcat"
        and any(line.startswith(b"Uid:") for line in lines)
        and lines[-1].startswith(b"nonvoluntary_ctxt_switches:")
    )


def check(number: int, run: Exec) -> str:
    """One exec and its verdict: ok, empty (exit 0, no stdout), wrong (exit 0, other stdout),
    failed (an error or another exit code)."""
    kind = number % 3
    token = b"token-%d" % number
    argv = [
        ["cat", "/tmp/origin"],
        ["echo", token.decode()],
        ["cat", "/proc/self/status"],
    ][kind]
    try:
        code, stdout = run(argv)
    except Exception:
        return "failed"
    if code != 0:
        return "failed"
    if not stdout:
        return "empty"
    correct = [stdout == ORIGIN, stdout == token + b"\n", expected_status(stdout)][kind]
    return "ok" if correct else "wrong"


def hammer(run: Exec, execs: int, threads: int, max_seconds: float) -> tuple[Counter[str], float]:
    """``execs`` checks from ``threads`` threads, stopping early after ``max_seconds``."""
    counts: Counter[str] = Counter()
    numbers = itertools.count()
    lock = threading.Lock()
    started = time.monotonic()

    def worker() -> None:
        while time.monotonic() - started < max_seconds:
            with lock:
                number = next(numbers)
            if number >= execs:
                return
            verdict = check(number, run)
            with lock:
                counts[verdict] += 1

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return counts, time.monotonic() - started


def wait_ready(run: Exec) -> None:
    """Until the container has written its file: an exec before that is no loss."""
    deadline = time.monotonic() + READY_WAIT_S
    while run(["cat", "/tmp/origin"]) != (0, ORIGIN):
        if time.monotonic() > deadline:
            raise SystemExit("the container never wrote /tmp/origin")
        time.sleep(0.2)


def via_shim(ownership: RunOwnership, measure: Callable[[Exec], None]) -> None:
    with ShimLauncher(backend="docker", strategy="reject") as launcher:
        client = CriClient(Endpoints(launcher.endpoint, launcher.endpoint, "bench"), 60)
        tracker = ResourceTracker(client, ownership)
        try:
            client.connect()
            client.pull_image(BUSYBOX)
            pod = cri.PodSandboxConfig(
                metadata=cri.PodSandboxMetadata(name="exec-loss", namespace="bench", uid="u1"),
                labels=ownership.labels,
            )
            pod_id = client.run_pod(pod)
            tracker.add_pod(pod_id)
            container = cri.ContainerConfig(
                metadata=cri.ContainerMetadata(name="origin"),
                image=cri.ImageSpec(image=BUSYBOX),
                command=WRITE_ORIGIN,
                labels=ownership.labels,
            )
            container_id = client.create_container(pod_id, container, pod)
            tracker.add_container(container_id)
            client.start_container(container_id)

            def run(argv: list[str]) -> tuple[int, bytes]:
                response = client.exec_sync(container_id, argv, timeout=60)
                return response.exit_code, response.stdout

            measure(run)
        finally:
            tracker.cleanup().settle()
            client.close()


def via_docker_py(api: Any, ownership: RunOwnership, measure: Callable[[Exec], None]) -> None:
    container = api.create_container(BUSYBOX, WRITE_ORIGIN, labels=ownership.labels)["Id"]
    try:
        api.start(container)

        def run(argv: list[str]) -> tuple[int, bytes]:
            exec_id = api.exec_create(container, argv)["Id"]
            stdout, _ = api.exec_start(exec_id, demux=True)
            while (state := api.exec_inspect(exec_id))["Running"]:
                time.sleep(0.02)
            return int(state["ExitCode"]), stdout or b""

        measure(run)
    finally:
        if ownership.owns_labels(api.inspect_container(container)["Config"]["Labels"] or {}):
            api.remove_container(container, force=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--execs", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--via", default="shim,docker-py")
    parser.add_argument("--max-seconds", type=float, default=1800)
    args = parser.parse_args()
    ownership = RunOwnership(new_run_id())
    api = docker.APIClient(base_url=docker_host(), version="auto")
    api.pull(BUSYBOX)
    print(f"Docker at {docker_host()}, {args.threads} threads, run {ownership.labels[RUN_LABEL]}")
    print(f"{'via':<10}{'execs':>7}{'ok':>7}{'empty':>7}{'wrong':>7}{'failed':>7}{'s':>7}")

    def measure(name: str) -> Callable[[Exec], None]:
        def measured(run: Exec) -> None:
            wait_ready(run)
            counts, seconds = hammer(run, args.execs, args.threads, args.max_seconds)
            columns = (counts[verdict] for verdict in ("ok", "empty", "wrong", "failed"))
            done = "".join(f"{count:>7}" for count in columns)
            print(f"{name:<10}{counts.total():>7}{done}{seconds:>7.0f}", flush=True)

        return measured

    for name in args.via.split(","):
        if name == "shim":
            via_shim(ownership, measure(name))
        elif name == "docker-py":
            via_docker_py(api, ownership, measure(name))
        else:
            raise SystemExit(f"--via: unknown path {name!r} (shim, docker-py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
