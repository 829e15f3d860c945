"""SIGKILL the shim mid-burst, restart it on the same state: nothing lost, nothing orphaned.

Each kill point is a burst of 30 lifecycles in flight on a fresh state dir, killed after a
number of OK answers drawn from its seed (``--crash-seed`` + the point's number), under a
strategy taken in turn. ``--crash-kills 20`` is the thorough run; the default 3 (one per
strategy) runs in CI. A shim killed while removed pods are still being torn down (their VMs
and networks go after RemovePodSandbox answered) finishes that at its restart.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter
from pathlib import Path

import docker
import pytest
from crash_burst import BUSYBOX, Burst, KillPlan, Step
from crash_checks import (
    Engine,
    ShimView,
    check_engine_consistency,
    check_journal,
    check_logs,
    check_orphans,
    check_pod_dirs,
    shim_view,
)
from cri_api.v1 import api_pb2 as cri
from docker_shim import Launch, connect, instance_of, run_container, shell, wait_for

from harness.client import CriClient
from reference_shim.backends.labels import POD_ID_LABEL, owner_filter
from reference_shim.strategies import STRATEGIES

IN_FLIGHT = 30
# Docker finishes requests of the killed shim (creates, starts) after the new one first
# looked; wait for such stragglers to land before judging the engine's side.
STRAGGLER_WAIT_S = 10.0
# The shim removes late leftovers in passes 1, 3, 7, 15 and 31 s after start
# (reference_shim.cri.recovery); the engine must agree with it by then.
SETTLED_WITHIN_S = 40.0
LOG_WAIT_S = 10.0  # for the restarted shim's log copiers to catch up
TORN_DOWN_PODS = 4
TEARDOWN_WAIT_S = 60.0  # a loaded Docker takes up to a second or so per network


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kill_point" in metafunc.fixturenames:
        points = range(metafunc.config.getoption("crash_kills"))
        metafunc.parametrize("kill_point", points, ids=[f"kill-{n}" for n in points])


def settled(client: CriClient, api: docker.APIClient, instance: str) -> tuple[ShimView, Engine]:
    """The shim's and the engine's views once they agree, or as they are at the deadline."""
    deadline = time.monotonic() + SETTLED_WITHIN_S
    while True:
        view = shim_view(client)
        engine = Engine.read(api, instance)
        problems = check_engine_consistency(view, engine) + check_orphans(view, engine)
        if not problems or time.monotonic() > deadline:
            return view, engine
        time.sleep(1.0)


def describe(burst: Burst, plan: KillPlan, strategy: str, seed: int) -> str:
    cut = Counter(run.interrupted.name for run in burst.runs if run.interrupted)
    done = Counter(step.name for run in burst.runs for step in run.ok)
    return (
        f"seed {seed}, strategy {strategy}: killed at {burst.killed_at} after {plan.after_ok} "
        f"OK answers (+{plan.delay_s * 1000:.0f} ms); {len(burst.runs)} pods; OK {dict(done)}; "
        f"in flight at the kill {dict(cut)}"
    )


def test_a_shim_killed_mid_burst_recovers_every_object_and_orphans_nothing(
    kill_point: int,
    launch: Launch,
    docker_api: docker.APIClient,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    seed = request.config.getoption("crash_seed") + kill_point
    strategy = list(STRATEGIES)[kill_point % len(STRATEGIES)]
    plan = KillPlan.drawn(random.Random(seed), IN_FLIGHT)
    first = launch(strategy)
    client = connect(first)
    client.pull_image(BUSYBOX)
    burst = Burst(client, seed, IN_FLIGHT, str(tmp_path / "logs"))
    burst.run(plan, first.kill)
    client.close()
    print(describe(burst, plan, strategy, seed))
    assert burst.errors == [], "RPCs failed before the kill"
    assert any(run.interrupted for run in burst.runs), "the kill interrupted no RPC"

    second = launch(strategy)  # it recovers before it serves
    client = connect(second)
    view = shim_view(client)
    problems = check_journal(burst.runs, view) + check_pod_dirs(tmp_path / "state", view)
    time.sleep(STRAGGLER_WAIT_S)
    view, engine = settled(client, docker_api, instance_of(tmp_path / "state"))
    problems += check_engine_consistency(view, engine) + check_orphans(view, engine)
    problems += check_logs(view, docker_api, engine, LOG_WAIT_S)
    client.close()
    assert problems == [], "\n".join(problems) + "\nshim output:\n" + second.stderr_tail()
    survivors = [run for run in burst.runs if Step.RUN_POD in run.ok]
    print(f"restarted with {len(view.pods)} pods, {len(view.containers)} containers "
          f"({len(survivors)} pods had answered OK)")  # fmt: skip


def stored_teardowns(state_dir: Path) -> set[str]:
    """The pods whose teardown the shim's state still holds, read from its store directly."""
    with sqlite3.connect(state_dir / "state.db") as db:
        return {str(row[0]) for row in db.execute("SELECT pod_id FROM teardowns")}


def left_in_docker(api: docker.APIClient, instance: str, pod_ids: set[str]) -> list[str]:
    """The Docker containers and networks of these pods, found by their labels."""
    found = []
    for pod_id in pod_ids:
        selector = {"label": [owner_filter(instance), f"{POD_ID_LABEL}={pod_id}"]}
        found += [c["Id"] for c in api.containers(all=True, filters=selector)]
        found += [n["Name"] for n in api.networks(filters=selector)]
    return found


def test_a_shim_killed_while_removed_pods_are_torn_down_finishes_that_at_restart(
    launch: Launch,
    docker_api: docker.APIClient,
    tmp_path: Path,
    pod_config: cri.PodSandboxConfig,
) -> None:
    state = tmp_path / "state"
    first = launch("separate-vms")
    client = connect(first)
    pod_ids = set()
    for number in range(TORN_DOWN_PODS):
        config = cri.PodSandboxConfig()
        config.CopyFrom(pod_config)
        config.metadata.name, config.metadata.uid = f"gone-{number}", f"uid-gone-{number}"
        pod_id, _ = run_container(client, config, shell("sleep 1000"))
        pod_ids.add(pod_id)
    for pod_id in pod_ids:
        client.stop_pod(pod_id)
    for pod_id in pod_ids:
        client.remove_pod(pod_id)
    first.kill()
    client.close()
    instance = instance_of(state)
    pending = stored_teardowns(state)
    assert pending, "every teardown had ended before the kill: nothing left to recover"
    assert left_in_docker(docker_api, instance, pending), "a stored teardown with nothing left"

    second = launch("separate-vms")
    client = connect(second)
    assert client.list_pods() == [], "a removed pod came back"
    assert client.list_containers() == []
    wait_for(lambda: not stored_teardowns(state), TEARDOWN_WAIT_S)
    assert left_in_docker(docker_api, instance, pod_ids) == [], second.stderr_tail()
    assert not any((state / "pods" / pod_id).exists() for pod_id in pod_ids)
    client.close()
