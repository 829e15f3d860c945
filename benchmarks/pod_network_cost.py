"""What one pod costs containerd 1.6 under variants of the CNI config, alternated A/B/A/B.

    python benchmarks/pod_network_cost.py [--rounds 20] [--variant NAME ...]

Pods are most of a conformance run's time on containerd, and every plugin of the CNI chain is a
process containerd executes at each pod's add and delete (some run iptables again and again).
Absolute times mean little on a loaded machine, so this script starts one private containerd
1.6 per variant, each from the config.toml `scripts/services` gives the suite's containerd
(`scripts/services containerd-config`), with the CNI config of the running services changed
only as the variant says (and a bridge, subnet and IPAM folder of its own). Each round then
runs one pod in every containerd in turn, the order rotating, so the variants share the same
moments of load; with `--container`, a busybox container is also created and started in each
pod. Prints per step the p50 of every variant and its ratio to the first, and the CPU time
each round cost its containerd with the processes it ran (CNI plugins, iptables): on a loaded
machine the steadier measure of a CNI config's cost.

Needs root and `scripts/services start` (the registry and the CNI config). Everything it makes
carries a run label of its own and is removed at the end; it stops only the containerds it
started, by their pids, and deletes only its own bridges. No traffic leaves this machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.bench.stats import percentile
from harness.builders import container_config, pod_config
from harness.client import CriClient
from harness.endpoints import Endpoints
from harness.ownership import RunOwnership, new_run_id
from harness.resources import ResourceTracker

REPO = Path(__file__).resolve().parent.parent
SERVICES_DIR = Path(os.environ.get("CRI_SERVICES_DIR", "/var/tmp/cri-conformance"))
SERVICES_CNI = SERVICES_DIR / "cni/net.d/10-cri-conformance.conflist"
BUSYBOX = "127.0.0.1:5000/cri-conformance/busybox:1.0"
STEPS = ("pod add", "pod delete", "pod add+delete", "container create+start", "containerd CPU")
START_TIMEOUT_S = 30.0
Conflist = dict[str, Any]


def _bridge_key(key: str, value: bool) -> Callable[[Conflist], None]:
    def change(conflist: Conflist) -> None:
        conflist["plugins"][0][key] = value

    return change


def _without_plugin(kind: str) -> Callable[[Conflist], None]:
    def change(conflist: Conflist) -> None:
        conflist["plugins"] = [p for p in conflist["plugins"] if p["type"] != kind]

    return change


@dataclass(frozen=True)
class Variant:
    """A change to the services' CNI config (none for `services`), or another runtime handler."""

    name: str
    changes: tuple[Callable[[Conflist], None], ...] = ()
    handler: str = ""


VARIANTS = {
    v.name: v
    for v in (
        Variant("services"),
        Variant("ipMasq", (_bridge_key("ipMasq", True),)),
        Variant("no-ipMasq", (_bridge_key("ipMasq", False),)),
        Variant("no-hairpin", (_bridge_key("hairpinMode", False),)),
        Variant("no-portmap", (_without_plugin("portmap"),)),
        Variant("crun", handler="crun"),
    )
}


def variant_conflist(base: Conflist, variant: Variant, number: int, folder: Path) -> Conflist:
    """The services' conflist with the variant's changes, on a bridge and subnet of its own."""
    conflist = copy.deepcopy(base)
    bridge = conflist["plugins"][0]
    if bridge["type"] != "bridge":
        raise SystemExit(f"{SERVICES_CNI}: the first plugin is not bridge; update this script")
    bridge["bridge"] = f"crbench{number}"
    bridge["ipam"]["dataDir"] = str(folder / "ipam")
    bridge["ipam"]["ranges"] = [[{"subnet": f"10.{240 + number}.0.0/16"}]]
    conflist["name"] = f"cri-conformance-bench{number}"
    for change in variant.changes:
        change(conflist)
    return conflist


@contextmanager
def private_containerd(
    base: Conflist, variant: Variant, number: int, root: Path
) -> Iterator[tuple[str, int]]:
    """A containerd 1.6 of the services' config with the variant's CNI config; its endpoint
    and pid.
    Stopped by the pid it was started with, and its bridge deleted, on the way out."""
    name = f"bench{number}"
    folder = root / variant.name
    env = {**os.environ, "CRI_SERVICES_DIR": str(folder)}
    config = subprocess.run(
        [str(REPO / "scripts/services"), "containerd-config", name],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    net_d = folder / "cni/net.d"
    net_d.mkdir(parents=True)
    conflist = variant_conflist(base, variant, number, folder)
    (net_d / "10-bench.conflist").write_text(json.dumps(conflist, indent=2))
    (folder / name / "config.toml").write_text(config)
    socket = folder / name / "containerd.sock"
    with open(folder / name / "containerd.log", "wb") as log:
        process = subprocess.Popen(
            ["containerd", "--config", str(folder / name / "config.toml")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"containerd {name} did not start: {folder / name}/containerd.log")
            time.sleep(0.1)
        yield f"unix://{socket}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        bridge = conflist["plugins"][0]["bridge"]
        subprocess.run(["ip", "link", "delete", bridge], check=False, capture_output=True)


Timings = defaultdict[str, list[float]]


def cpu_seconds(pid: int) -> float:
    """The CPU time of process ``pid`` and of its children it reaped: containerd runs every
    CNI plugin (and they run iptables) as its children, so the CNI config's cost is in it,
    which a loaded machine's wall clock blurs (the shims, daemons of their own, are not)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(field) for field in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def one_pod(
    tracker: ResourceTracker, variant: Variant, number: int, timings: Timings, container: bool
) -> None:
    """Run, (optionally) fill, stop and remove one pod, timing each step."""
    client, run_id = tracker.client, tracker.ownership.run_id
    pod = pod_config(
        f"bench-{number}",
        run_id=run_id,
        namespace="bench",
        log_directory=f"/tmp/cri-bench-{run_id}",
    )
    started = time.perf_counter()
    pod_id = client.run_pod(pod, variant.handler)
    added = time.perf_counter()
    tracker.add_pod(pod_id)
    timings["pod add"].append(added - started)
    if container:
        config = container_config("sleeper", BUSYBOX, run_id=run_id, command=["sleep", "1000"])
        created = time.perf_counter()
        container_id = client.create_container(pod_id, config, pod)
        tracker.add_container(container_id, pod_id)
        client.start_container(container_id)
        timings["container create+start"].append(time.perf_counter() - created)
    deleting = time.perf_counter()
    client.stop_pod(pod_id)
    client.remove_pod(pod_id)
    deleted = time.perf_counter()
    timings["pod delete"].append(deleted - deleting)
    timings["pod add+delete"].append(deleted - deleting + added - started)


def settle_cleanup(tracker: ResourceTracker) -> None:
    tracker.cleanup().settle()


def report(results: dict[str, Timings], rounds: int) -> None:
    names = list(results)
    print(f"{rounds} rounds alternated; load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'step':<24}" + "".join(f"{name:>22}" for name in names))
    for step in STEPS:
        if not results[names[0]].get(step):
            continue
        first = statistics.median(results[names[0]][step])
        cells = []
        for name in names:
            p50 = statistics.median(results[name][step])
            cells.append(f"{p50 * 1000:8.0f}ms {p50 / first:5.2f}x")
        print(f"{step + ' p50':<24}" + "".join(f"{cell:>22}" for cell in cells))
        spreads = [percentile(results[name][step], 90) for name in names]
        print(f"{step + ' p90':<24}" + "".join(f"{s * 1000:>20.0f}ms" for s in spreads))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--variant", action="append", choices=tuple(VARIANTS),
        help="the variants, the first being the baseline (default: all, services first)",
    )  # fmt: skip
    parser.add_argument("--container", action="store_true", help="also start a container")
    args = parser.parse_args()
    chosen = [VARIANTS[name] for name in (args.variant or VARIANTS)]
    base = json.loads(SERVICES_CNI.read_text())
    ownership = RunOwnership(new_run_id())
    results: dict[str, Timings] = {v.name: defaultdict(list) for v in chosen}
    root = Path(tempfile.mkdtemp(prefix="cri-bench-", dir="/var/tmp"))
    try:
        with ExitStack() as stack:
            trackers, pids = [], []
            for number, variant in enumerate(chosen):
                endpoint, pid = stack.enter_context(private_containerd(base, variant, number, root))
                client = CriClient(Endpoints(endpoint, endpoint, "bench"), 60)
                stack.callback(client.close)
                client.connect()
                tracker = ResourceTracker(client, ownership)
                stack.callback(settle_cleanup, tracker)
                client.pull_image(BUSYBOX)
                one_pod(tracker, variant, -1, defaultdict(list), args.container)  # warm-up
                trackers.append(tracker)
                pids.append(pid)
            for number in range(args.rounds):
                for offset in range(len(chosen)):
                    index = (number + offset) % len(chosen)
                    variant = chosen[index]
                    timings = results[variant.name]
                    cpu = cpu_seconds(pids[index])
                    one_pod(trackers[index], variant, number, timings, args.container)
                    timings["containerd CPU"].append(cpu_seconds(pids[index]) - cpu)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(f"/tmp/cri-bench-{ownership.run_id}", ignore_errors=True)
    report(results, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
