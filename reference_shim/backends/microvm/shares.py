"""Folders and files mounted from the host, live in the VM: one virtiofs daemon per VM.

The guest kernel (Debian's cloud kernel) has no 9p, but it has ``virtiofs`` (with ``fuse``) as
modules, and QEMU 7.2 ships ``virtiofsd``. A VM with mounts gets one daemon, which serves one
folder, the VM's *staging* folder: an empty placeholder per mount (``0``, ``1``, ...; a folder or
a file, as the host path is), each with the host path bound over it. Those bind mounts are made
in a mount namespace of the daemon's own (``unshare``), so the host's mount table is never
touched and nothing is left mounted when the daemon dies: removing the staging folder from the
host removes placeholders only. The agent mounts the share at ``/run/shares`` and binds each
entry at its container path (``MOUNT`` lines, README.md), read-only where asked; a read-only
mount is read-only on the host side too, so a guest that leaves its container's root cannot
write through it either.

Propagation, across a VM boundary:

- private: the entry's bind is made private in the daemon's namespace, so a mount the host makes
  later under the folder is not seen;
- host-to-container (rslave): the namespace is a slave of the host's, and the entry stays a
  slave: a mount the host makes later under the folder (where the host path is a shared mount)
  reaches the daemon, which serves its files; the guest sees it as a submount
  (``announce_submounts``);
- bidirectional (rshared): impossible by design. A mount made inside the VM is a mount of the
  guest's kernel; virtiofs carries file operations, never mounts, so nothing can make it a
  mount of the host's. It answers UNIMPLEMENTED with that reason.

Image volumes are entries too: the image's unpacked tree (or its folder ``sub_path``), shared
read-only (the tree is the backend's one unpack of the image, read-only on both sides).

The daemon ends when QEMU closes its socket; the backend kills it with its VM, and a daemon
left by a shim that died is found by its pid file (``stop_daemon``).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference_shim.backends.base import ImageMountSpec, MountSpec
from reference_shim.backends.microvm.qemu import VmFiles
from reference_shim.errors import (
    BackendError,
    BackendUnavailable,
    InvalidArgument,
    Unimplemented,
)

VIRTIOFSD = Path("/usr/lib/qemu/virtiofsd")
TAG = "shares"  # the virtiofs tag the agent mounts
MOUNT_API = "reference_shim.backends.microvm.mount_api"
SOCKET_WAIT_S = 20.0  # the daemon opens its socket in well under a second, even loaded


@dataclass(frozen=True)
class Share:
    """One mount from the host: entry ``name`` of the VM's share, bound at ``container_path``."""

    name: str
    host_path: str
    container_path: str
    readonly: bool
    follows_host: bool  # host-to-container propagation
    is_file: bool
    recursive_readonly: bool = False  # the mounts under it read-only too (``mount_api``)

    @property
    def mode(self) -> str:
        """The agent's word for it (``MOUNT``): ``rw``, ``ro``, or ``rro`` (with what is under)."""
        if not self.readonly:
            return "rw"
        return "rro" if self.recursive_readonly else "ro"

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Share:
        return cls(**document)


def plan(mounts: Iterable[MountSpec]) -> tuple[Share, ...]:
    """The shares for ``mounts``, parents before what is mounted under them (as containerd
    orders them), or UNIMPLEMENTED for what cannot cross a VM boundary."""
    ordered = sorted(mounts, key=lambda m: len(Path(m.container_path).parts))
    shares = []
    for number, mount in enumerate(ordered):
        if mount.propagation == "rshared":
            raise Unimplemented(
                f"mount propagation Bidirectional of {mount.container_path}: a mount made inside "
                "a VM is a mount of the guest's kernel, and virtiofs carries file operations, "
                "never mounts, so it cannot reach the host (impossible across a VM boundary)"
            )
        shares.append(
            Share(
                name=str(number), host_path=mount.host_path,
                container_path=mount.container_path, readonly=mount.readonly,
                follows_host=mount.propagation == "rslave",
                is_file=not Path(mount.host_path).is_dir(),
                recursive_readonly=mount.recursive_readonly,
            )
        )  # fmt: skip
    if shares and not VIRTIOFSD.exists():
        raise BackendUnavailable(
            f"mounts from the host need {VIRTIOFSD} (QEMU's virtiofsd); "
            "run `scripts/services microvm`"
        )
    return tuple(shares)


def image_volumes(
    volumes: Iterable[ImageMountSpec], rootfs: Callable[[str], Path]
) -> list[MountSpec]:
    """Image volumes as read-only mounts of the image's unpacked tree (``rootfs``: the image
    id's tree), or of its folder ``sub_path``, which must be in the image."""
    mounts = []
    for volume in volumes:
        tree = rootfs(volume.image).resolve()
        folder = (tree / volume.sub_path.strip("/")).resolve()
        if not folder.is_relative_to(tree) or not folder.is_dir():
            raise InvalidArgument(
                f"image_sub_path {volume.sub_path!r} is not a folder in image {volume.image}"
            )
        mounts.append(MountSpec(str(folder), volume.container_path, readonly=True))
    return mounts


@dataclass(frozen=True)
class ShareFiles:
    """The daemon's files: its socket and staging folder (short paths, next to the VM's other
    sockets), its pid file and log (in the VM's folder)."""

    vm: VmFiles

    @property
    def socket(self) -> Path:
        return self.vm.sockets / "fs.sock"

    @property
    def staging(self) -> Path:
        return self.vm.sockets / "shares"

    @property
    def pid(self) -> Path:
        return self.vm.folder / "virtiofsd.pid"

    @property
    def log(self) -> Path:
        return self.vm.folder / "virtiofsd.log"


def _namespace_script(files: ShareFiles, shares: Iterable[Share]) -> str:
    """What runs in the daemon's mount namespace: the binds, then the daemon itself."""
    steps = ["set -e"]
    for share in shares:
        source, target = shlex.quote(share.host_path), shlex.quote(str(files.staging / share.name))
        steps.append(f"mount --rbind {source} {target}")
        if not share.follows_host:
            steps.append(f"mount --make-rprivate {target}")
        if share.readonly:
            steps.append(readonly_step(share, target))
    steps.append("exec " + shlex.join(daemon_command(files)))
    return "\n".join(steps)


def readonly_step(share: Share, target: str) -> str:
    """The shell step that makes a read-only share's bind at ``target`` (quoted) read-only in
    the daemon's namespace: its top mount, or with the mounts under it (``mount_api``)."""
    if share.recursive_readonly:
        return shlex.join([sys.executable, "-m", MOUNT_API, "readonly"]) + f" {target}"
    return f"mount -o remount,bind,ro {target}"


def daemon_command(files: ShareFiles) -> list[str]:
    """virtiofsd serving the staging folder on the share's socket."""
    return [
        str(VIRTIOFSD), f"--socket-path={files.socket}", "-o", f"source={files.staging}",
        "-o", "cache=auto", "-o", "announce_submounts", "-o", "xattr",
    ]  # fmt: skip


def start_daemon(vm: VmFiles, shares: tuple[Share, ...], memory_mib: int) -> list[str]:
    """Start the VM's virtiofsd (the VM must not boot before its socket exists); QEMU's
    arguments for it, for a VM of ``memory_mib``. The namespace is a slave of the host's, so
    entries that follow the host receive its later mounts; the others are made private in it."""
    files = ShareFiles(vm)
    files.staging.mkdir(parents=True, exist_ok=True)
    for share in shares:
        make_placeholder(files.staging / share.name, share)
    return run_daemon(files, _namespace_script(files, shares), memory_mib)


def make_placeholder(path: Path, share: Share) -> None:
    """What ``share``'s host path is bound over: an empty file or folder, as the path is."""
    if share.is_file:
        path.touch()
    else:
        path.mkdir(exist_ok=True)


def run_daemon(files: ShareFiles, script: str, memory_mib: int) -> list[str]:
    """Run ``script`` (which starts the daemon) in a mount namespace of its own, a slave of the
    host's; wait for the daemon's socket; QEMU's arguments for it."""
    vm = files.vm
    files.socket.unlink(missing_ok=True)
    with files.log.open("ab") as log:
        daemon = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "slave", "--", "/bin/sh", "-c", script],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    files.pid.write_text(str(daemon.pid))
    deadline = time.monotonic() + SOCKET_WAIT_S
    while not files.socket.exists():
        if daemon.poll() is not None or time.monotonic() > deadline:
            stop_daemon(vm)
            raise BackendError(f"virtiofsd did not open its socket; see {files.log}")
        time.sleep(0.02)
    return qemu_arguments(files, memory_mib)


def qemu_arguments(files: ShareFiles, memory_mib: int) -> list[str]:
    """vhost-user needs the guest's RAM in shared memory (a memfd backend for the machine), and
    virtio 1.0 (virtiofsd's libvhost-user refuses the legacy virtio-mmio microvm defaults to)."""
    return [
        "-global", "virtio-mmio.force-legacy=false",
        "-object", f"memory-backend-memfd,id=mem,size={memory_mib}M,share=on",
        "-machine", "memory-backend=mem",
        "-chardev", f"socket,id=fs,path={files.socket}",
        "-device", f"vhost-user-fs-device,chardev=fs,tag={TAG}",
    ]  # fmt: skip


def stop_daemon(vm: VmFiles) -> None:
    """Kill the VM's daemon, if it still runs: by its pid file, and only while that pid's
    command line names this VM's share socket (pids are reused). Its children (the sandboxed
    daemon in a PID namespace) are in its process group."""
    files = ShareFiles(vm)
    try:
        pid = int(files.pid.read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ValueError):
        return
    if str(files.socket).encode() in command:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):  # a daemon of this process: reap it
            os.waitpid(pid, 0)
    files.pid.unlink(missing_ok=True)
