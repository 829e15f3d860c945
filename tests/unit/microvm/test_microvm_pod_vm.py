"""The microvm backend's shared pod VM (strategy shared-vm), without a VM: the pod VM's lines
and QEMU arguments, a container's share entries, pid TARGET, and the strategy's capability."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
import shutil
from pathlib import Path

import pytest

from reference_shim.backends.base import Capability, Placement, ResourceSpec, VmRole, VmSpec
from reference_shim.backends.microvm import pod_shares, pod_vm
from reference_shim.backends.microvm.backend import MicrovmBackend
from reference_shim.backends.microvm.launch import Launch
from reference_shim.backends.microvm.limits import GUEST_HEADROOM_MIB
from reference_shim.backends.microvm.monitor import Monitor
from reference_shim.backends.microvm.qemu import VmFiles, qemu_command
from reference_shim.backends.microvm.shares import Share, ShareFiles
from reference_shim.errors import ResourceExhausted
from reference_shim.strategies import ImpossiblePair, strategy_named

POD = {
    "address": "10.233.0.7/16", "hostname": "web-0",
    "sysctls": {"net.ipv4.ip_unprivileged_port_start": "0", "kernel.shm_rmid_forced": "1"},
    "size": [pod_vm.POD_MEMORY_MIB, 1],
}  # fmt: skip


def test_the_pod_vm_is_sized_from_the_pods_resources_never_below_its_default() -> None:
    assert pod_vm.size(ResourceSpec()) == (pod_vm.POD_MEMORY_MIB, 1)
    assert pod_vm.size(ResourceSpec(memory_limit=16 << 20))[0] == pod_vm.POD_MEMORY_MIB
    memory_mib, cpus = pod_vm.size(ResourceSpec(memory_limit=1 << 30, cpu_quota=200_000))
    assert memory_mib == 1024 + GUEST_HEADROOM_MIB
    assert cpus == min(2, os.cpu_count() or 1)
    launch = pod_vm.PodLaunch.of_pod({**POD, "size": [memory_mib, cpus]})
    assert (launch.memory_mib, launch.cpus) == (memory_mib, cpus)


def test_the_pod_vm_is_told_the_pods_settings_then_pod() -> None:
    launch = pod_vm.PodLaunch.of_pod(POD)
    lines = launch.lines()
    assert lines[0] == f"HOSTNAME {base64.b64encode(b'web-0').decode()}"
    assert lines[1] == "NETWORK 10.233.0.7/16"
    sysctls = [base64.b64decode(word).decode() for word in lines[2].split()[1:]]
    assert sysctls == ["kernel/shm_rmid_forced=1", "net/ipv4/ip_unprivileged_port_start=0"]
    hosts = base64.b64decode(lines[3].split()[1]).decode()
    assert hosts.splitlines()[0] == "127.0.0.1\tlocalhost"
    assert hosts.splitlines()[-1] == "10.233.0.7\tweb-0"
    assert lines[-1] == "POD"
    assert launch.memory_mib == pod_vm.POD_MEMORY_MIB


def test_the_pod_vm_has_no_root_disk_but_a_scsi_controller_and_a_large_port_bus(
    tmp_path: Path,
) -> None:
    files = VmFiles(tmp_path / "pod")
    files.folder.mkdir()
    command = qemu_command(files, Path("k"), Path("i"), pod_vm.qemu_devices())
    assert "-drive" not in command
    assert f"virtio-scsi-device,id={pod_vm.SCSI_CONTROLLER}" in command
    assert f"virtio-serial-device.max_ports={pod_vm.SERIAL_PORTS}" in command
    files.disk.write_bytes(b"")  # a container's VM of its own boots its disk
    assert f"id=root,file={files.disk},format=raw,if=none" in qemu_command(
        files, Path("k"), Path("i")
    )


def test_pid_target_is_a_pidns_line_and_round_trips() -> None:
    launch = Launch(
        argv=("sleep", "9"), env=(), working_dir="/", uid=0, gid=0, hostname="",
        readonly_rootfs=False, readonly_files=(), pid_target=42,
    )  # fmt: skip
    assert "PIDNS target 42" in launch.lines()
    assert Launch.from_json(json.loads(json.dumps(launch.to_json()))) == launch
    assert "PIDNS container" in dataclasses.replace(launch, pid_target=0).lines()


def test_in_the_pod_vm_a_pid_target_is_not_refused_as_across_vms() -> None:
    spec = VmSpec(
        name="c", role=VmRole.WORKLOAD, pod_id="p", image="busybox", argv=("true",), labels={},
        placement=Placement(inside="pod", pid_of="target"),
    )  # fmt: skip
    assert pod_vm.in_pod_vm(spec).placement == Placement(inside="pod")


def test_a_containers_mounts_are_entries_of_its_key_bound_through_a_private_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    vm = VmFiles(tmp_path / secrets.token_hex(32))  # its sockets' folder is under /tmp
    request.addfinalizer(lambda: shutil.rmtree(vm.sockets, ignore_errors=True))
    files = ShareFiles(vm)
    files.staging.mkdir(parents=True)
    pod_shares._prepared(files).mkdir(parents=True)
    scripts: list[str] = []
    clones: list[tuple[str, Path]] = []
    monkeypatch.setattr(pod_shares, "_in_holder", lambda _files, script: scripts.append(script))
    monkeypatch.setattr(
        pod_shares, "_clone_into_holder", lambda _f, source, to: clones.append((source, to))
    )
    planned = pod_shares.entries("abc", (
        Share("0", "/etc/resolv.conf", "/etc/resolv.conf", True, False, is_file=True),
        Share("1", "/data", "/data", False, True, is_file=False),
    ))  # fmt: skip
    assert [share.name for share in planned] == ["abc/0", "abc/1"]
    pod_shares.add(vm, "abc", planned)
    middle0, middle1 = pod_shares._prepared(files) / "abc-0", pod_shares._prepared(files) / "abc-1"
    assert clones == [("/etc/resolv.conf", middle0), ("/data", middle1)]
    assert scripts[0].splitlines() == [
        "set -e",
        f"mount --make-rprivate {middle0}",
        f"mount -o remount,bind,ro {middle0}",  # before the bind into the share: it is copied
        f"mount --rbind {middle0} {files.staging / 'abc/0'}",
        f"mount --make-rslave {middle1}",  # follows the host
        f"mount --rbind {middle1} {files.staging / 'abc/1'}",
    ]
    assert (files.staging / "abc/0").is_file()
    assert (files.staging / "abc/1").is_dir()
    pod_shares.remove(vm, "abc")
    assert "umount -l" in scripts[1]
    assert not (files.staging / "abc").exists()
    assert not list(pod_shares._prepared(files).glob("*"))


def test_a_pod_vm_hands_out_scsi_targets_and_takes_them_back(tmp_path: Path) -> None:
    pod = pod_vm.PodVm(VmFiles(tmp_path / "pod"), lambda: None)
    taken = [pod.take_target() for _ in range(pod_vm.SCSI_TARGETS)]
    assert taken == list(range(pod_vm.SCSI_TARGETS))
    with pytest.raises(ResourceExhausted):
        pod.take_target()
    pod.give_back(7)
    assert pod.take_target() == 7


def test_shared_vm_runs_only_on_a_backend_built_for_it(tmp_path: Path) -> None:
    plain = MicrovmBackend(tmp_path / "a", "i")
    assert Capability.SHARED_POD_VM not in plain.capabilities
    with pytest.raises(ImpossiblePair):
        strategy_named("shared-vm", plain)
    shared = MicrovmBackend(tmp_path / "b", "i", shared_pod_vms=True)
    assert Capability.SHARED_POD_VM in shared.capabilities
    assert strategy_named("shared-vm", shared).name == "shared-vm"


def test_closing_the_monitor_of_a_qemu_that_ended_does_not_raise(tmp_path: Path) -> None:
    """qemu.qmp's disconnect re-raises its reader's EOFError once QEMU has gone: a waiter that
    let it through never set ``ended`` (a pod VM's StopPodSandbox waited 20 s)."""

    class Ended:
        async def disconnect(self) -> None:
            raise EOFError

    monitor = Monitor(tmp_path / "qmp.sock")
    monitor._client = Ended()  # type: ignore[assignment]
    monitor.close()
