"""Host devices in a VM: CRI ``devices``, and a privileged container's block devices.

A VM has a kernel of its own, so a host device reaches the container in one of two ways:

- a **character device the guest kernel provides itself** (``GUEST_CHARACTER_DEVICES``: the
  memory devices, a terminal, ``fuse``, ``tun``): Linux fixes their numbers, so the node the
  agent makes with the host's major:minor is the same device, served by the guest's driver
  (loaded first where the cloud kernel builds it as a module). Any other character device has
  no driver in the VM (a GPU, a serial port, the host's own ``kvm``) and is refused with
  UNIMPLEMENTED naming it;
- a **block device** is handed to QEMU as a virtio-blk disk whose serial is the host's name of
  the device (under shared-vm, an ``scsi-hd`` plugged into the running pod VM: ``pod_vm``); the
  agent finds the guest's disk by that serial and makes its node at the
  container path (a privileged container: every host block device, at ``/dev/NAME``). The node
  has the guest's numbers (the guest's virtio-blk driver serves it), not the host's.

Safety of a host disk in QEMU: ``format=raw`` (no format probing: QEMU reads nothing it would
interpret), ``locking=off`` (QEMU takes no lock on the host's device, so it cannot block the
host or another VM given the same device), read-only when the container may not write,
discard requests not passed on (QEMU's default), cache through the host's page cache as any
process writing the node. The guest's agent runs no udev, LVM or RAID scan: the guest kernel
only reads the partition table; it writes only what the container writes, as a privileged runc
container could.

A block device the shim cannot open (the host denies it, as this project's sandbox denies its
root disk: EPERM) cannot be handed to QEMU. The container still gets a node under its name, as
runc would make it, and opening it fails with EPERM as it did on the host: its numbers are in
a range Linux reserves for local use (``PLACEHOLDER_MAJOR``), which the guest kernel never
assigns, and the workload's device filter denies that range first. The shim logs why.

Access (``r``, ``w``, ``m``) is enforced as runc does on cgroup v2: a BPF device program on the
workload's cgroup (``guest/devcgroup.c``) allowing runc's default list and the given devices,
denying the rest; a privileged container's allows everything but the placeholders.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference_shim.backends.base import DeviceSpec
from reference_shim.errors import FailedPrecondition, InvalidArgument, Unimplemented

LOG = logging.getLogger(__name__)

# Character devices the guest kernel has, by number (Documentation/admin-guide/devices.txt:
# these numbers are fixed), each with the guest module that provides it ("" built in).
GUEST_CHARACTER_DEVICES: dict[tuple[int, int], tuple[str, str]] = {
    (1, 3): ("null", ""), (1, 5): ("zero", ""), (1, 7): ("full", ""), (1, 8): ("random", ""),
    (1, 9): ("urandom", ""), (1, 11): ("kmsg", ""), (5, 0): ("tty", ""), (5, 2): ("ptmx", ""),
    (10, 200): ("net/tun", "tun"), (10, 229): ("fuse", "fuse"),
}  # fmt: skip
# What the agent makes in every container's /dev (init.sh, START; ptmx: a link to pts/ptmx).
EVERY_CONTAINERS_DEV = frozenset({"null", "zero", "full", "random", "urandom", "tty", "ptmx"})
# Guest modules for those devices, put in the initramfs (guest.py).
DEVICE_MODULES = tuple(sorted({module for _, module in GUEST_CHARACTER_DEVICES.values() if module}))
# runc's default allow list (libcontainer/specconv AllowedDevices), appended to every
# container's rules as runc appends it: make any node; use the memory devices, terminals, tun.
RUNC_DEFAULT_RULES = (
    "+c:*:*:m", "+b:*:*:m", "+c:1:3:rwm", "+c:1:8:rwm", "+c:1:7:rwm", "+c:5:0:rwm",
    "+c:1:5:rwm", "+c:1:9:rwm", "+c:136:*:rwm", "+c:5:2:rwm", "+c:10:200:rwm",
)  # fmt: skip
# A block major for "local/experimental use" (devices.txt: 60-63): the guest never assigns it,
# so a placeholder node with it reaches no device, and the device filter denies it first.
PLACEHOLDER_MAJOR = 60
PLACEHOLDER_RULE = f"-b:{PLACEHOLDER_MAJOR}:*:rwm"
# virtio-mmio slots on ``-M microvm`` (24 with its second IO-APIC) less the root disk, the
# serial ports, the NIC and the virtiofs share.
MAX_DISKS = 20
SERIAL_BYTES = 20  # a virtio-blk serial holds 20 bytes (VIRTIO_BLK_ID_BYTES)
_NAME = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Disk:
    """A host block device QEMU opens: its host name (the virtio-blk serial), its path."""

    serial: str
    host_path: str
    readonly: bool


@dataclass(frozen=True)
class Plan:
    """What the agent makes (``DEVICE`` lines' words), QEMU's disks, the filter's rules."""

    nodes: tuple[str, ...]
    disks: tuple[Disk, ...]
    rules: tuple[str, ...]

    def launch_fields(self) -> dict[str, Any]:
        return {"devices": self.nodes, "disks": self.disks, "device_rules": self.rules}


def _access(device: DeviceSpec) -> str:
    permissions = device.permissions or "rwm"
    if not set(permissions) <= set("rwm"):
        raise InvalidArgument(
            f"device {device.host_path}: permissions {permissions!r} may hold only r, w and m"
        )
    return "".join(letter for letter in "rwm" if letter in permissions)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def host_block_name(rdev: int, sys: Path = Path("/sys")) -> str:
    """The kernel's name of block device ``rdev`` (``vda``, ``loop0``, ``nvme0n1p1``)."""
    return (sys / "dev" / "block" / f"{os.major(rdev)}:{os.minor(rdev)}").resolve().name


def host_block_devices(sys: Path = Path("/sys"), dev: Path = Path("/dev")) -> list[str]:
    """Every block device of the host with a node in its /dev: what a privileged container sees."""
    return sorted(name for name in os.listdir(sys / "block") if (dev / name).exists())


def _mode(info: os.stat_result) -> str:
    """The node's mode and owner as the host's (as containerd copies them): ``MODE UID GID``."""
    return f"{stat.S_IMODE(info.st_mode):o} {info.st_uid} {info.st_gid}"


def _opens(path: str, readonly: bool) -> str:
    """Why the shim cannot open ``path`` as QEMU would ("" when it can)."""
    try:
        os.close(os.open(path, (os.O_RDONLY if readonly else os.O_RDWR) | os.O_CLOEXEC))
    except OSError as error:
        return error.strerror or str(error)
    return ""


class _Planner:
    def __init__(self, sys: Path) -> None:
        self.sys = sys
        self.nodes: list[str] = []
        self.disks: dict[str, Disk] = {}
        self.placeholders = 0

    def character(self, device: DeviceSpec, info: os.stat_result, access: str) -> None:
        major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
        known = GUEST_CHARACTER_DEVICES.get((major, minor))
        if known is None:
            raise Unimplemented(
                f"devices: {device.host_path} (character device {major}:{minor}) has no driver "
                "in the microvm guest: a VM's kernel serves only its own devices, and it has "
                f"only {', '.join(sorted(name for name, _ in GUEST_CHARACTER_DEVICES.values()))}"
            )
        self._node("c", major, minor, device.container_path, access, info, known[1] or "-")

    def block(self, host_path: str, container_path: str, info: os.stat_result, access: str) -> None:
        name = host_block_name(info.st_rdev, self.sys)
        if not _NAME.fullmatch(name) or len(name) > SERIAL_BYTES:
            raise Unimplemented(
                f"devices: {host_path}: the guest finds a disk by its serial, and the name "
                f"{name!r} cannot be one ({SERIAL_BYTES} bytes of letters, digits, '.', '_', '-')"
            )
        readonly = "w" not in access
        why = _opens(host_path, readonly)
        if why:
            LOG.warning(
                "block device %s: the shim cannot open it (%s), so no VM can have it; the "
                "container gets a node at %s that fails to open with EPERM", host_path, why,
                container_path,
            )  # fmt: skip
            self._node("b", PLACEHOLDER_MAJOR, self.placeholders, container_path, "-", info, "-")
            self.placeholders += 1
            return
        earlier = self.disks.get(name)
        self.disks[name] = Disk(name, host_path, readonly and (earlier is None or earlier.readonly))
        self.nodes.append(f"disk {name} {_b64(container_path)} {access} {_mode(info)}")

    def _node(
        self, kind: str, major: int, minor: int, path: str, access: str, info: os.stat_result,
        module: str,
    ) -> None:  # fmt: skip
        self.nodes.append(
            f"node {kind} {major} {minor} {_b64(path)} {access} {_mode(info)} {module}"
        )


def _privileged_characters(planner: _Planner, dev: Path) -> None:
    """A privileged container's host character devices that the guest has too (runc gives it
    all of the host's /dev), but those every container's /dev already holds."""
    for (major, minor), (name, _) in GUEST_CHARACTER_DEVICES.items():
        path = str(dev / name)
        try:
            info = os.stat(path)
        except OSError:
            continue
        if name in EVERY_CONTAINERS_DEV or not stat.S_ISCHR(info.st_mode):
            continue
        if (os.major(info.st_rdev), os.minor(info.st_rdev)) == (major, minor):
            planner.character(DeviceSpec(path, path), info, "rwm")


def plan(
    devices: tuple[DeviceSpec, ...], privileged: bool, readonly_root: bool = False,
    sys: Path = Path("/sys"), dev: Path = Path("/dev"),
) -> Plan:  # fmt: skip
    """The agent's nodes, QEMU's disks and the device filter for a container's ``devices``
    (and, ``privileged``, every host block device at ``/dev/NAME``)."""
    planner = _Planner(sys)
    for device in devices:
        access = _access(device)
        if readonly_root and not device.container_path.startswith("/dev/"):
            raise Unimplemented(
                f"devices: {device.container_path} is outside /dev in a read-only root: the "
                "VM's root disk is mounted read-only from the start, so no node can be made there"
            )
        try:
            info = os.stat(device.host_path)
        except OSError as error:
            raise InvalidArgument(f"device {device.host_path}: {error.strerror}") from error
        if stat.S_ISCHR(info.st_mode):
            planner.character(device, info, access)
        elif stat.S_ISBLK(info.st_mode):
            planner.block(device.host_path, device.container_path, info, access)
        else:
            raise Unimplemented(
                f"devices: {device.host_path} is not a device node (a folder of devices is not "
                "expanded by the microvm backend)"
            )
    if privileged:
        _privileged_characters(planner, dev)
        for name in host_block_devices(sys, dev):
            path = str(dev / name)
            planner.block(path, path, os.stat(path), "rwm")
    if len(planner.disks) > MAX_DISKS:
        raise Unimplemented(
            f"devices: {len(planner.disks)} host block devices, more than the {MAX_DISKS} "
            "virtio-blk disks a microvm machine has slots for"
        )
    default = ("allow",) if privileged else ("deny",)
    rules = (*default, PLACEHOLDER_RULE, *(() if privileged else RUNC_DEFAULT_RULES))
    return Plan(tuple(planner.nodes), tuple(planner.disks.values()), rules)


def check_disks(disks: tuple[Disk, ...]) -> None:
    """Before QEMU starts: each disk still opens (it did at CreateContainer). A QEMU that cannot
    open one ends before its agent answers, which would read as a boot timeout."""
    for disk in disks:
        why = _opens(disk.host_path, disk.readonly)
        if why:
            raise FailedPrecondition(f"device {disk.host_path} no longer opens: {why}")


def blockdev(disk: Disk) -> dict[str, Any]:
    """The disk's QMP ``blockdev-add`` options, but its node name (module doc: why these)."""
    file = {
        "driver": "host_device", "filename": disk.host_path, "locking": "off",
        "read-only": disk.readonly,
    }  # fmt: skip
    return {"driver": "raw", "read-only": disk.readonly, "file": file}


def qemu_arguments(disks: tuple[Disk, ...]) -> list[str]:
    """QEMU's ``-blockdev`` and virtio-blk device for each host disk, at boot."""
    arguments = []
    for disk in disks:
        node = {"node-name": f"host-{disk.serial}", **blockdev(disk)}
        device = f"virtio-blk-device,drive=host-{disk.serial},serial={disk.serial}"
        arguments += ["-blockdev", json.dumps(node), "-device", device]
    return arguments
