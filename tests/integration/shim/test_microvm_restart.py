"""A shim on real VMs killed with SIGKILL: its VMs run on, and the restarted shim finds them.

The microvm backend's recovery (reference_shim/backends/microvm/recovery.py): a container that
exits while no shim runs is reported with its real exit code and time, not 255, and a running
container's output flows on into its CRI log, no line lost or repeated. Real VMs under TCG,
so only with CRI_CONTRACT_MICROVM=1, as the backend contract (scripts/services microvm).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as cri
from docker_shim import remove_everything, run_container, shell, wait_for

from harness.client import CriClient
from harness.endpoints import Endpoints
from reference_shim.launcher import ShimLauncher

pytestmark = pytest.mark.skipif(
    not os.environ.get("CRI_CONTRACT_MICROVM"),
    reason="real VMs under TCG take long: set CRI_CONTRACT_MICROVM=1 (scripts/services microvm)",
)
COUNTER = "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.1; done"
BOOT_S = 120.0  # a boot under TCG on a loaded 2-core machine


@pytest.fixture(params=["separate-vms", "shared-vm"])
def launch(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[], ShimLauncher]]:
    """Shims on one state dir; at the end a last one removes every pod, so no VM is left. Under
    shared-vm each pod is a VM of its own that its container joined (backends/microvm/pod_vm.py):
    the restarted shim takes the pod VM over, then the container through it."""
    launched: list[ShimLauncher] = []

    def start() -> ShimLauncher:
        launcher = ShimLauncher(
            backend="microvm", strategy=request.param, state_dir=tmp_path / "state",
            log_level="debug", ready_timeout=BOOT_S,
        ).start()  # fmt: skip
        launched.append(launcher)
        return launcher

    yield start
    for launcher in launched:
        launcher.close()
    final = start()
    client = connect(final)
    remove_everything(client)
    client.close()
    final.close()


def connect(launcher: ShimLauncher) -> CriClient:
    """A client whose calls wait out a VM's boot (StartContainer)."""
    client = CriClient(Endpoints(launcher.endpoint, launcher.endpoint, "test"), timeout=BOOT_S)
    client.connect()
    return client


def numbers(log: Path) -> list[int]:
    return [int(line.rsplit(b" ", 1)[1]) for line in log.read_bytes().splitlines()]


def named(pod_config: cri.PodSandboxConfig, name: str) -> cri.PodSandboxConfig:
    config = cri.PodSandboxConfig()
    config.CopyFrom(pod_config)
    config.metadata.name, config.metadata.uid = name, f"uid-{name}"
    return config


def test_a_vm_that_exits_while_the_shim_is_dead_keeps_its_exit_and_output(
    launch: Callable[[], ShimLauncher], pod_config: cri.PodSandboxConfig, tmp_path: Path
) -> None:
    # The leaver exits when the test says so, through a folder shared with it (a timer in the
    # guest would not do: under TCG on a loaded host the guest's clock runs slow), and says it
    # has on the host: so its exit is known to happen while no shim runs.
    flags = tmp_path / "flags"
    flags.mkdir()
    leaver_config = shell(
        "echo before; while [ ! -e /flags/go ]; do sleep 0.1; done; touch /flags/done; exit 7",
        "leaver",
    )
    leaver_config.mounts.append(cri.Mount(container_path="/flags", host_path=str(flags)))
    first = launch()
    client = connect(first)
    _, counter = run_container(client, named(pod_config, "counter"), shell(COUNTER, "counter"))
    _, leaver = run_container(client, named(pod_config, "leaver"), leaver_config)
    counter_log = Path(client.container_status(counter).status.log_path)
    leaver_log = Path(client.container_status(leaver).status.log_path)
    wait_for(lambda: leaver_log.exists() and b"before" in leaver_log.read_bytes(), BOOT_S)
    wait_for(lambda: counter_log.exists() and len(numbers(counter_log)) >= 5, BOOT_S)
    client.close()

    first.kill()
    told_at = time.time_ns()
    (flags / "go").touch()
    wait_for(lambda: (flags / "done").exists(), 60)
    time.sleep(10.0)  # its exit is well in the past when the next shim asks
    restarted_at = time.time_ns()
    client = connect(launch())
    wait_for(lambda: client.container_status(leaver).status.state == cri.CONTAINER_EXITED, 60)
    status = client.container_status(leaver).status
    assert status.exit_code == 7, status
    assert told_at < status.finished_at < restarted_at, "the exit's time is not when it exited"
    assert leaver_log.read_bytes().count(b"before") == 1

    assert client.container_status(counter).status.state == cri.CONTAINER_RUNNING
    seen_at_restart = len(numbers(counter_log))
    wait_for(lambda: len(numbers(counter_log)) > seen_at_restart + 10, 60)
    client.stop_container(counter, timeout=0)
    seen = numbers(counter_log)
    assert seen == list(range(1, len(seen) + 1)), "log lines lost or repeated across the restart"
    client.close()
