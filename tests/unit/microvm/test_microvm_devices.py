"""Host devices on the microvm backend: which devices a VM can have, the agent's DEVICE lines,
QEMU's disks and the device filter's rules (no VM boots here; the suites boot them:
test_container_devices.py, test_security_privileged.py). The filter program itself is built
and its rule syntax checked here."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reference_shim.backends.base import DeviceSpec
from reference_shim.backends.microvm import devices
from reference_shim.backends.microvm.devices import Disk
from reference_shim.backends.microvm.launch import Launch
from reference_shim.backends.microvm.static_build import static_program
from reference_shim.errors import FailedPrecondition, InvalidArgument, Unimplemented


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_character_device_of_the_guest_is_made_with_the_host_numbers_and_its_access() -> None:
    plan = devices.plan((DeviceSpec("/dev/null", "/dev/given", "wr"),), privileged=False)
    info = os.stat("/dev/null")
    mode = f"{stat.S_IMODE(info.st_mode):o} {info.st_uid} {info.st_gid}"
    assert plan.nodes == (f"node c 1 3 {_b64('/dev/given')} rw {mode} -",)
    assert plan.disks == ()
    # deny by default, the placeholders first, then runc's default list
    assert plan.rules[:2] == ("deny", devices.PLACEHOLDER_RULE)
    assert plan.rules[2:] == devices.RUNC_DEFAULT_RULES


def test_a_guest_module_is_named_for_the_device_it_provides() -> None:
    assert devices.GUEST_CHARACTER_DEVICES[(10, 229)] == ("fuse", "fuse")
    assert set(devices.DEVICE_MODULES) == {"fuse", "tun"}


def test_a_node_outside_dev_in_a_read_only_root_is_unimplemented() -> None:
    with pytest.raises(Unimplemented, match="outside /dev in a read-only root"):
        devices.plan((DeviceSpec("/dev/null", "/data/null"),), False, readonly_root=True)
    assert devices.plan((DeviceSpec("/dev/null", "/dev/n"),), False, readonly_root=True).nodes


def test_a_character_device_the_guest_has_no_driver_for_is_unimplemented_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(devices, "GUEST_CHARACTER_DEVICES", {(1, 5): ("zero", "")})
    with pytest.raises(Unimplemented, match=r"/dev/null \(character device 1:3\) has no driver"):
        devices.plan((DeviceSpec("/dev/null", "/dev/null"),), privileged=False)


@pytest.mark.parametrize(
    ("device", "error", "words"),
    [
        (DeviceSpec("/dev/null", "/dev/x", "rx"), InvalidArgument, "may hold only r, w and m"),
        (DeviceSpec("/no/such/device", "/dev/x"), InvalidArgument, "/no/such/device"),
        (DeviceSpec("/etc/hostname", "/dev/x"), Unimplemented, "not a device node"),
    ],
)
def test_what_is_no_device_the_guest_can_have_is_refused(
    device: DeviceSpec, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        devices.plan((device,), privileged=False)


def _fake_block_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, names: dict[str, int], refused: set[str]
) -> tuple[Path, Path]:
    """A /sys and /dev with block devices ``names`` (name: minor of major 7); the shim cannot
    open those in ``refused``."""
    sys, dev = tmp_path / "sys", tmp_path / "dev"
    (sys / "block").mkdir(parents=True)
    (sys / "dev" / "block").mkdir(parents=True)
    dev.mkdir()
    rdevs = {}
    for name, minor in names.items():
        (sys / "devices" / name).mkdir(parents=True)
        (sys / "block" / name).symlink_to(sys / "devices" / name)
        (sys / "dev" / "block" / f"7:{minor}").symlink_to(sys / "devices" / name)
        (dev / name).touch()
        rdevs[str(dev / name)] = os.makedev(7, minor)
    real_stat = os.stat

    def fake_stat(path: str, *args: Any, **options: Any) -> os.stat_result:
        if path not in rdevs:
            return real_stat(path, *args, **options)
        fields = list(real_stat(path))[:10]
        fields[0] = stat.S_IFBLK | 0o660
        return os.stat_result(fields, {"st_rdev": rdevs[path]})

    monkeypatch.setattr(os, "stat", fake_stat)

    def opens(path: str, readonly: bool) -> str:
        return "Operation not permitted" if Path(path).name in refused else ""

    monkeypatch.setattr(devices, "_opens", opens)
    return sys, dev


def test_a_block_device_is_a_disk_whose_serial_is_its_host_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys, dev = _fake_block_devices(tmp_path, monkeypatch, {"loop3": 3}, set())
    device = DeviceSpec(str(dev / "loop3"), "/dev/data", "r")
    plan = devices.plan((device,), privileged=False, sys=sys, dev=dev)
    assert plan.disks == (Disk("loop3", str(dev / "loop3"), readonly=True),)
    assert plan.nodes[0].startswith(f"disk loop3 {_b64('/dev/data')} r 660 ")


def test_a_privileged_container_gets_every_host_block_device_under_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys, dev = _fake_block_devices(tmp_path, monkeypatch, {"loop0": 0, "vdz": 9}, {"vdz"})
    plan = devices.plan((), privileged=True, sys=sys, dev=dev)
    assert plan.disks == (Disk("loop0", str(dev / "loop0"), readonly=False),)
    loop0, vdz = plan.nodes
    assert loop0.startswith(f"disk loop0 {_b64(str(dev / 'loop0'))} rwm ")
    # the one the shim cannot open: a placeholder the filter denies, as the host denied it
    assert vdz.startswith(f"node b {devices.PLACEHOLDER_MAJOR} 0 {_b64(str(dev / 'vdz'))} - ")
    assert plan.rules == ("allow", devices.PLACEHOLDER_RULE)


def test_a_privileged_container_gets_the_host_character_devices_the_guest_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys, dev = _fake_block_devices(tmp_path, monkeypatch, {}, set())
    (dev / "net").mkdir()
    nodes = {"fuse": (10, 229), "net/tun": (10, 200), "zero": (1, 5), "kvm": (10, 232)}
    for name in nodes:
        (dev / name).touch()
    real_stat = os.stat

    def char_stat(path: str, *args: Any, **options: Any) -> os.stat_result:
        name = str(Path(path).relative_to(dev)) if path.startswith(str(dev)) else ""
        if name not in nodes:
            return real_stat(path, *args, **options)
        fields = list(real_stat(path))[:10]
        fields[0] = stat.S_IFCHR | 0o666
        return os.stat_result(fields, {"st_rdev": os.makedev(*nodes[name])})

    monkeypatch.setattr(os, "stat", char_stat)
    plan = devices.plan((), privileged=True, sys=sys, dev=dev)
    made = sorted(node.split()[:4] for node in plan.nodes)
    # zero is in every container's /dev already; the guest has no kvm
    assert made == [["node", "c", "10", "200"], ["node", "c", "10", "229"]]


def test_more_disks_than_the_machine_has_slots_for_are_unimplemented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = {f"loop{minor}": minor for minor in range(devices.MAX_DISKS + 1)}
    sys, dev = _fake_block_devices(tmp_path, monkeypatch, names, set())
    with pytest.raises(Unimplemented, match="virtio-blk disks"):
        devices.plan((), privileged=True, sys=sys, dev=dev)


def test_a_disk_that_no_longer_opens_fails_the_start_naming_it(tmp_path: Path) -> None:
    devices.check_disks((Disk("null", "/dev/null", readonly=True),))
    with pytest.raises(FailedPrecondition, match=r"/gone no longer opens: No such file"):
        devices.check_disks((Disk("gone", str(tmp_path / "gone"), readonly=True),))


def test_qemu_opens_a_host_disk_raw_unlocked_and_read_only_unless_written() -> None:
    arguments = devices.qemu_arguments(
        (Disk("loop0", "/dev/odd,name", readonly=True), Disk("vdb", "/dev/vdb", readonly=False))
    )
    assert arguments[0::2] == ["-blockdev", "-device", "-blockdev", "-device"]
    assert arguments[3] == "virtio-blk-device,drive=host-loop0,serial=loop0"
    assert arguments[7] == "virtio-blk-device,drive=host-vdb,serial=vdb"
    loop0, vdb = json.loads(arguments[1]), json.loads(arguments[5])
    assert loop0 == {
        "node-name": "host-loop0", "driver": "raw", "read-only": True,
        "file": {
            "driver": "host_device", "filename": "/dev/odd,name", "locking": "off",
            "read-only": True,
        },
    }  # fmt: skip
    assert vdb["read-only"] is vdb["file"]["read-only"] is False


def test_the_launch_carries_devices_to_the_agent_and_through_json() -> None:
    plan = devices.plan((DeviceSpec("/dev/zero", "/dev/z", "r"),), privileged=False)
    launch = Launch(
        argv=("true",), env=(), working_dir="/", uid=0, gid=0, hostname="", readonly_rootfs=False,
        readonly_files=(), devices=plan.nodes, device_rules=plan.rules,
        disks=(Disk("loop0", "/dev/loop0", True),),
    )  # fmt: skip
    lines = launch.lines()
    assert f"DEVICE {plan.nodes[0]}" in lines
    assert f"DEVRULES {' '.join(plan.rules)}" in lines
    assert lines.index(f"DEVRULES {' '.join(plan.rules)}") < lines.index("START")
    assert Launch.from_json(launch.to_json()) == launch


def test_the_device_filter_builds_and_refuses_a_malformed_rule(tmp_path: Path) -> None:
    program = static_program("devcgroup", tmp_path)
    for arguments, words in [
        (["/sys/fs/cgroup", "maybe"], "bad default"),
        (["/sys/fs/cgroup", "deny", "c:1:3:rwm"], "starts with + or -"),
        (["/sys/fs/cgroup", "deny", "+c:1:3"], "four fields"),
        (["/sys/fs/cgroup", "deny", "+x:1:3:r"], "bad device type"),
        (["/sys/fs/cgroup", "deny", "+c:1:3:rx"], "bad access"),
        (["/sys/fs/cgroup", "deny", "+c:one:3:r"], "bad number"),
    ]:
        done = subprocess.run([program, *arguments], capture_output=True, text=True)
        assert done.returncode == 2, (arguments, done.stderr)
        assert words in done.stderr, (arguments, done.stderr)
