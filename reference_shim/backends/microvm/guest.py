"""What every VM boots: the kernel from scripts/services, and an initramfs built here.

The initramfs is the agent's whole world: busybox-static as ``/bin/busybox``, the agent
(``guest/init.sh``) as ``/init`` with the parts it sources (``guest/NAME.sh``, ``AGENT_PARTS``)
in ``/lib/agent``, its static helpers (``static_build``) ``/bin/ptyrun``,
``/bin/launch``, ``/bin/devcgroup`` and ``/bin/userns``, and the kernel's modules the agent
loads: virtio's, the NIC's, virtiofs', and the features a container may use (the cloud kernel
builds them as modules). It is a newc cpio archive, written byte by byte here (Debian 12 has
no ``cpio`` installed by default), the same bytes for the same inputs; it is built once per
shim state folder and rebuilt when an input changes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from reference_shim.backends.microvm.devices import DEVICE_MODULES
from reference_shim.backends.microvm.static_build import static_program
from reference_shim.errors import BackendUnavailable

SERVICES_DIR = Path(os.environ.get("CRI_SERVICES_DIR", "/var/tmp/cri-conformance"))
BUSYBOX = Path("/bin/busybox")
MODULES = (
    "virtio", "virtio_ring", "virtio_mmio", "virtio_blk", "virtio_console",
    "failover", "net_failover", "virtio_net",  # the NIC's (init.sh loads them for NETWORK)
)  # fmt: skip
# Loaded by the agent only in a VM with mounts from the host (``shares``): virtiofs needs fuse.
SHARE_MODULES = ("fuse", "virtiofs")
# Loaded by the agent of a shared pod VM (shared-vm): its containers' disks are SCSI disks
# hot-plugged on a virtio-scsi controller (``pod_vm``), in dependency order.
SCSI_MODULES = ("scsi_common", "scsi_mod", "sd_mod", "virtio_scsi")
# Kernel features a container may use (NET_ADMIN making a bridge) that the cloud kernel builds
# as modules; the agent loads them in this order (``load_feature_modules``).
FEATURE_MODULES = ("llc", "stp", "bridge")
# Every module in the initramfs: the above, and the drivers of the host devices a container
# may be given (``devices``; fuse is also the share's).
INITRAMFS_MODULES = tuple(
    dict.fromkeys((*MODULES, *SHARE_MODULES, *SCSI_MODULES, *FEATURE_MODULES, *DEVICE_MODULES))
)
INSTALL_HINT = "run `scripts/services microvm` (as root) to install QEMU and the guest kernel"


@dataclass(frozen=True)
class GuestKernel:
    """The unpacked kernel package: ``boot/vmlinuz-*`` and ``lib/modules/*/``."""

    tree: Path

    @classmethod
    def installed(cls, folder: Path | None = None) -> GuestKernel:
        tree = (folder or SERVICES_DIR / "microvm") / "kernel"
        if not list(tree.glob("boot/vmlinuz-*")):
            raise BackendUnavailable(f"no guest kernel in {tree}; {INSTALL_HINT}")
        return cls(tree.resolve())

    @property
    def vmlinuz(self) -> Path:
        return sorted(self.tree.glob("boot/vmlinuz-*"))[-1]

    def module(self, name: str) -> Path:
        found = sorted(self.tree.glob(f"lib/modules/*/kernel/**/{name}.ko"))
        if not found:
            raise BackendUnavailable(f"the guest kernel in {self.tree} has no module {name}")
        return found[0]


# The agent's parts that init.sh sources, one file per concern (``/lib/agent/NAME.sh``).
AGENT_PARTS = (
    "limits", "privileges", "pid_namespaces", "devices", "user_namespaces", "pod_vm", "streaming",
)  # fmt: skip


def agent_script(name: str = "init") -> bytes:
    """``guest/NAME.sh``: the agent (``init``), or one of its parts."""
    guest = resources.files("reference_shim.backends.microvm").joinpath("guest")
    return guest.joinpath(f"{name}.sh").read_bytes()


def _newc_entry(name: str, mode: int, data: bytes = b"", inode: int = 0) -> bytes:
    """One member of a newc cpio archive: its header, name and data, each padded to 4 bytes."""
    fields = (inode, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0)
    header = b"070701" + b"".join(b"%08X" % value for value in fields)
    named = header + name.encode() + b"\0"
    named += b"\0" * (-len(named) % 4)
    return named + data + b"\0" * (-len(data) % 4)


def initramfs_bytes(
    kernel: GuestKernel, busybox: Path = BUSYBOX, programs: tuple[tuple[str, Path], ...] = ()
) -> bytes:
    """``programs``: the static helpers (``static_build``), each ``(NAME, binary)`` as
    ``/bin/NAME``."""
    directories = (
        "bin",
        "lib",
        "lib/agent",
        "lib/modules",
        "proc",
        "sys",
        "dev",
        "run",
        "container",
    )
    files = [
        ("init", 0o100755, agent_script()),
        *((f"lib/agent/{name}.sh", 0o100644, agent_script(name)) for name in AGENT_PARTS),
        ("bin/busybox", 0o100755, busybox.read_bytes()),
        *((f"bin/{name}", 0o100755, binary.read_bytes()) for name, binary in programs),
        *(
            (f"lib/modules/{name}.ko", 0o100644, kernel.module(name).read_bytes())
            for name in INITRAMFS_MODULES
        ),
    ]
    members = [(name, 0o040755, b"") for name in directories] + files
    archive = b"".join(
        _newc_entry(name, mode, data, inode) for inode, (name, mode, data) in enumerate(members, 1)
    )
    return archive + _newc_entry("TRAILER!!!", 0)


def initramfs(kernel: GuestKernel, folder: Path) -> Path:
    """The initramfs for ``kernel`` in ``folder``, named by its content's hash."""
    if not BUSYBOX.exists():
        raise BackendUnavailable(f"no {BUSYBOX} (busybox-static); {INSTALL_HINT}")
    helpers = tuple(
        (name, static_program(name, folder)) for name in ("ptyrun", "launch", "devcgroup", "userns")
    )
    data = initramfs_bytes(kernel, programs=helpers)
    path = folder / f"initramfs-{hashlib.sha256(data).hexdigest()[:16]}.cpio"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(path)
    return path
