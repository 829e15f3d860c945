"""Helpers of the shim's integration tests on the real Docker Engine."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import docker
from cri_api.v1 import api_pb2 as cri

from harness.client import CriClient
from harness.endpoints import Endpoints
from reference_shim.backends.labels import INSTANCE_LABEL
from reference_shim.launcher import ShimLauncher

BUSYBOX = "127.0.0.1:5000/cri-conformance/busybox:1.0"
BENCHMARKS = Path(__file__).parents[3] / "benchmarks"


class Launch(Protocol):
    """The ``launch`` fixture: start a shim (on the test's state dir) with a strategy."""

    def __call__(self, strategy: str = "reject") -> ShimLauncher: ...


def connect(launcher: ShimLauncher) -> CriClient:
    client = CriClient(Endpoints(launcher.endpoint, launcher.endpoint, "test"), timeout=60)
    client.connect()
    return client


def remove_everything(client: CriClient) -> None:
    for pod in client.list_pods():
        client.stop_pod(pod.id)
        client.remove_pod(pod.id)


def owned_by(api: docker.APIClient, instance: str) -> list[str]:
    found = api.containers(all=True, filters={"label": f"{INSTANCE_LABEL}={instance}"})
    networks = api.networks(filters={"label": f"{INSTANCE_LABEL}={instance}"})
    volumes = api.volumes(filters={"label": f"{INSTANCE_LABEL}={instance}"}).get("Volumes") or []
    return [c["Id"] for c in found] + [n["Name"] for n in networks + volumes]


def instance_of(state_dir: Path) -> str:
    with sqlite3.connect(state_dir / "state.db") as db:
        return str(db.execute("SELECT value FROM meta WHERE key = 'instance'").fetchone()[0])


def clean_up_after(state_dir: Path, api: docker.APIClient) -> None:
    """A fresh shim on the state removes what a test left; on a clean stop with no objects
    it also removes its network, so nothing of this instance may remain in Docker."""
    final = ShimLauncher(state_dir=state_dir).start()
    client = connect(final)
    remove_everything(client)
    client.close()
    final.close()
    assert owned_by(api, instance_of(state_dir)) == [], "the shim leaked"


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def run_container(
    client: CriClient, pod_config: cri.PodSandboxConfig, config: cri.ContainerConfig
) -> tuple[str, str]:
    client.pull_image(BUSYBOX)
    pod_id = client.run_pod(pod_config)
    container_id = client.create_container(pod_id, config, pod_config)
    client.start_container(container_id)
    return pod_id, container_id


def shell(script: str, name: str = "main") -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        image=cri.ImageSpec(image=BUSYBOX),
        command=["sh", "-c", script],
        log_path=f"{name}.log",
    )


def run_benchmark(script: str, *arguments: str) -> str:
    """What ``benchmarks/<script>`` printed; it must exit 0."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    print(result.stdout)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result.stdout
