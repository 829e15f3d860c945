"""A shim killed with SIGKILL comes back with every pod, container, state and log line."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from cri_api.v1 import api_pb2 as cri
from docker_shim import connect, run_container, shell, wait_for

from harness.client import CriClient
from reference_shim.launcher import ShimLauncher

COUNTER = "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.05; done"


def snapshot(client: CriClient) -> dict[str, tuple[int, int]]:
    """Every object's state (and a container's exit code), by id."""
    found: dict[str, tuple[int, int]] = {pod.id: (pod.state, 0) for pod in client.list_pods()}
    for container in client.list_containers():
        status = client.container_status(container.id).status
        found[container.id] = (status.state, status.exit_code)
    return found


def numbers(log: Path) -> list[int]:
    return [int(line.rsplit(b" ", 1)[1]) for line in log.read_bytes().splitlines()]


def test_sigkill_and_restart_keeps_ids_states_and_logs(
    launch: Callable[[], ShimLauncher], pod_config: cri.PodSandboxConfig
) -> None:
    first = launch()
    client = connect(first)
    _, counter = run_container(client, pod_config, shell(COUNTER, "counter"))
    done_pod = cri.PodSandboxConfig()
    done_pod.CopyFrom(pod_config)
    done_pod.metadata.name, done_pod.metadata.uid = "done", "uid-done"
    _, finished = run_container(client, done_pod, shell("echo bye; exit 4", "finished"))
    wait_for(lambda: client.container_status(finished).status.state == cri.CONTAINER_EXITED)
    log = Path(client.container_status(counter).status.log_path)
    wait_for(lambda: log.exists() and len(numbers(log)) >= 10)
    before = snapshot(client)
    client.close()

    first.kill()
    written_before_kill = len(numbers(log))
    time.sleep(1.0)  # the counter keeps writing while no shim is there

    client = connect(launch())
    assert snapshot(client) == before
    assert before[finished] == (cri.CONTAINER_EXITED, 4)
    assert before[counter] == (cri.CONTAINER_RUNNING, 0)
    wait_for(lambda: len(numbers(log)) > written_before_kill + 15)
    client.stop_container(counter, timeout=0)
    seen = numbers(log)
    assert seen == list(range(1, len(seen) + 1)), "log lines lost or repeated across the restart"
    finished_log = Path(client.container_status(finished).status.log_path).read_bytes()
    assert finished_log.endswith(b" stdout F bye\n")
    assert finished_log.count(b"\n") == 1
    client.close()
