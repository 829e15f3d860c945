"""A shared pod VM is as large as its pod asks (strategy shared-vm, real VMs).

The kubelet sends a pod's resources, the sum of its containers' (LinuxPodSandboxConfig.resources,
plus .overhead), for runtimes that size a sandbox; the pod VM boots with room for them
(``reference_shim/backends/microvm/pod_vm.py``, ``size``), so a container's limit binds in
its cgroup before the VM runs out of RAM or CPUs. Seen from inside a container: the guest's
MemTotal and online CPUs. Real VMs under TCG, so only with CRI_CONTRACT_MICROVM=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as cri
from docker_shim import remove_everything, run_container, shell

from harness.client import CriClient
from harness.endpoints import Endpoints
from reference_shim.launcher import ShimLauncher

pytestmark = pytest.mark.skipif(
    not os.environ.get("CRI_CONTRACT_MICROVM"),
    reason="real VMs under TCG take long: set CRI_CONTRACT_MICROVM=1 (scripts/services microvm)",
)
BOOT_S = 120.0  # a boot under TCG on a loaded 2-core machine
GIB = 1 << 30


@pytest.fixture
def client(tmp_path: Path) -> Iterator[CriClient]:
    """A shim on the microvm backend under shared-vm; every pod is removed at the end."""
    launcher = ShimLauncher(
        backend="microvm", strategy="shared-vm", state_dir=tmp_path / "state",
        ready_timeout=BOOT_S,
    ).start()  # fmt: skip
    client = CriClient(Endpoints(launcher.endpoint, launcher.endpoint, "test"), timeout=BOOT_S)
    client.connect()
    try:
        yield client
    finally:
        remove_everything(client)
        client.close()
        launcher.close()


def guest_size(client: CriClient, pod_config: cri.PodSandboxConfig) -> tuple[int, int]:
    """MemTotal (bytes) and online CPUs, as a container of the pod sees them."""
    _, container = run_container(client, pod_config, shell("sleep 600"))
    answer = client.exec_sync(container, ["sh", "-c", "grep MemTotal /proc/meminfo; nproc"])
    assert answer.exit_code == 0, answer.stderr
    memory, cpus = answer.stdout.decode().splitlines()
    return int(memory.split()[1]) * 1024, int(cpus)


def test_the_pod_vm_has_room_for_the_pods_resources_and_overhead(
    client: CriClient, pod_config: cri.PodSandboxConfig
) -> None:
    small_memory, small_cpus = guest_size(client, pod_config)
    assert small_memory < GIB  # a pod without resources: the default size
    assert small_cpus == 1
    sized = cri.PodSandboxConfig()
    sized.CopyFrom(pod_config)
    sized.metadata.name, sized.metadata.uid = "sized", "uid-sized"
    sized.linux.resources.memory_limit_in_bytes = GIB
    sized.linux.resources.cpu_quota, sized.linux.resources.cpu_period = 150_000, 100_000
    sized.linux.overhead.memory_limit_in_bytes = GIB // 4
    memory, cpus = guest_size(client, sized)
    assert memory > GIB + GIB // 4, "the pod VM has no room for the pod's memory and overhead"
    assert cpus == min(2, os.cpu_count() or 1), "the pod VM lacks the CPUs of the pod's quota"
