"""A VM's root filesystem disk: its image's tree, with the mount points its mounts need, as ext4.

``mkfs.ext4 -d`` writes the tree into a sparse disk image without mounting anything. The disk
is the container's writable layer: it starts as the image and lives as long as the VM. Mounts
from the host are live (virtiofs, ``shares``); the disk only gets a mount point for each, a
folder or an empty file, so that a read-only root still has them.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from reference_shim.backends.microvm.shares import Share
from reference_shim.errors import BackendError, InvalidArgument

WRITABLE_BYTES = 256 * 1024 * 1024  # room for what the workload writes (the file is sparse)
# Mount points the agent mounts over; made on the disk so a read-only root still has them.
GUEST_MOUNTS = ("proc", "sys", "dev")


def _tree_bytes(tree: Path) -> int:
    return sum(path.lstat().st_size for path in tree.rglob("*"))


def _mount_point(staging: Path, share: Share) -> None:
    """The mount point of ``share`` in the tree: an image's symlink there is replaced (the
    agent would follow it in the guest's root, not the container's)."""
    target = staging / share.container_path.lstrip("/")
    if not target.parent.resolve().is_relative_to(staging.resolve()):
        raise InvalidArgument(f"mount target {share.container_path} leaves the root")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    if share.is_file and not target.exists():
        target.touch()
    elif not share.is_file:
        target.mkdir(exist_ok=True)


def make_disk(tree: Path, shares: Iterable[Share], disk: Path) -> None:
    """The disk at ``disk``: a copy of ``tree`` with a mount point for every share."""
    staging = disk.with_name(disk.name + ".tree")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        subprocess.run(["cp", "-a", str(tree), str(staging)], check=True, capture_output=True)
        for name in GUEST_MOUNTS:
            (staging / name).mkdir(exist_ok=True)
        for share in shares:
            _mount_point(staging, share)
        size = _tree_bytes(staging) * 2 + WRITABLE_BYTES
        done = subprocess.run(
            ["mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-E", "root_owner=0:0",
             "-d", str(staging), str(disk), f"{size // 1024}k"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise BackendError(f"mkfs.ext4 of {disk}: {done.stderr.strip()}")
    except (OSError, subprocess.CalledProcessError) as error:
        raise BackendError(f"cannot make the root disk {disk}: {error}") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
