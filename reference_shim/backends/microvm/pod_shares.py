"""Mounts from the host for the containers of a shared pod VM (strategy ``shared-vm``).

A VM gets its virtiofs device at boot only (``-M microvm`` plugs no virtio-mmio device later),
so the pod VM boots with one daemon (``shares``) serving a staging folder that starts empty, and
each container's mounts become entries ``KEY/N`` of it when the container joins. The daemon's
mount namespace is virtiofsd's own, a slave of the one its script runs in (the *holder*, a
shell that stays, a slave of the host's): there the staging folder is made a shared mount, so a
bind the shim makes later in the holder's namespace (``nsenter``) propagates into the daemon's,
which serves it; the guest sees it as a submount (``announce_submounts``). The host's own mount
table is never touched, and nothing stays mounted when the holder dies.

The holder's copy of the host's mounts is as old as the pod (the host's root mount is private
here: nothing the host mounts later reaches it), so each host path is cloned from the host's
namespace as it is now into a private place of the holder's (``mount_api into``), made a slave
(host-to-container propagation) or private there, read-only where asked (a remount does not
propagate, a bind copies the flag), then bound into the staging folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from reference_shim.backends.microvm.qemu import VmFiles
from reference_shim.backends.microvm.shares import (
    MOUNT_API,
    Share,
    ShareFiles,
    daemon_command,
    make_placeholder,
    readonly_step,
    run_daemon,
)
from reference_shim.errors import BackendError

NSENTER_TIMEOUT_S = 30.0


def _prepared(files: ShareFiles) -> Path:
    """Where the holder binds each host path before it goes into the staging folder."""
    return files.vm.sockets / "prepared"


def start(vm: VmFiles, memory_mib: int) -> list[str]:
    """Start the pod VM's daemon, its staging folder empty; QEMU's arguments for it."""
    files = ShareFiles(vm)
    files.staging.mkdir(parents=True, exist_ok=True)
    _prepared(files).mkdir(parents=True, exist_ok=True)
    staging = shlex.quote(str(files.staging))
    script = "\n".join((
        "set -e",
        f"mount --bind {staging} {staging}",
        f"mount --make-shared {staging}",
        shlex.join(daemon_command(files)) + " &",
        "wait $!",
    ))  # fmt: skip
    return run_daemon(files, script, memory_mib)


def entries(key: str, shares: Iterable[Share]) -> tuple[Share, ...]:
    """A container's shares as entries of the pod VM's staging folder: ``KEY/N``."""
    return tuple(dataclasses.replace(share, name=f"{key}/{share.name}") for share in shares)


def _holder(files: ShareFiles) -> str:
    try:
        return str(int(files.pid.read_text()))
    except (FileNotFoundError, ValueError) as error:
        raise BackendError(f"the pod VM's virtiofs daemon is not running ({error})") from error


def _run(command: list[str]) -> None:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=NSENTER_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise BackendError(f"cannot share the container's mounts: {done.stderr.strip()}")


def _in_holder(files: ShareFiles, script: str) -> None:
    _run(["nsenter", "-t", _holder(files), "-m", "--", "/bin/sh", "-c", script])


def _clone_into_holder(files: ShareFiles, source: str, target: Path) -> None:
    """The host's mount tree at ``source``, as it is now, at ``target`` in the holder's
    namespace (``mount_api into``: the holder's copy of the host's mounts is as old as the pod)."""
    _run([sys.executable, "-m", MOUNT_API, "into", _holder(files), source, str(target)])


def add(vm: VmFiles, key: str, shares: tuple[Share, ...]) -> None:
    """Bind each of a container's shares (``entries``) into the running pod VM's share."""
    if not shares:
        return
    files = ShareFiles(vm)
    (files.staging / key).mkdir(exist_ok=True)
    steps = ["set -e"]
    try:
        for share in shares:
            prepared = _prepared(files) / share.name.replace("/", "-")
            make_placeholder(prepared, share)
            make_placeholder(files.staging / share.name, share)
            _clone_into_holder(files, share.host_path, prepared)
            middle = shlex.quote(str(prepared))
            # a slave receives the host's later mounts and sends none back; private, none
            steps.append(f"mount --make-r{'slave' if share.follows_host else 'private'} {middle}")
            if share.readonly:
                steps.append(readonly_step(share, middle))
            steps.append(f"mount --rbind {middle} {shlex.quote(str(files.staging / share.name))}")
        _in_holder(files, "\n".join(steps))
    except BackendError:
        remove(vm, key)
        raise


def remove(vm: VmFiles, key: str) -> None:
    """Unbind a container's entries from the pod VM's share, and remove their placeholders."""
    files = ShareFiles(vm)
    folder, prepared = files.staging / key, sorted(_prepared(files).glob(f"{key}-*"))
    if not folder.exists() and not prepared:
        return
    targets = [*sorted(folder.glob("*")), *prepared]
    script = "\n".join(f"umount -l {shlex.quote(str(t))} 2>/dev/null || true" for t in targets)
    # a holder that is gone leaves nothing mounted anywhere
    with contextlib.suppress(BackendError, subprocess.TimeoutExpired):
        _in_holder(files, script)
    shutil.rmtree(folder, ignore_errors=True)
    for path in prepared:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
