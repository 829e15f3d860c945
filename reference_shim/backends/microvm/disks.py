"""A VM's root filesystem disk: its image's tree, with the files mounted into it, as ext4.

``mkfs.ext4 -d`` writes the tree into a sparse disk image without mounting anything. The disk
is the container's writable layer: it starts as the image and lives as long as the VM. Files the
container mounts from the host (the pod's /etc/hosts and /etc/resolv.conf) are copied in when the
disk is made: the guest kernel has no 9p and virtiofs needs a daemon this slice does not run, so
folders mounted from the host answer UNIMPLEMENTED (``translate``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from reference_shim.backends.base import MountSpec
from reference_shim.errors import BackendError, InvalidArgument

WRITABLE_BYTES = 256 * 1024 * 1024  # room for what the workload writes (the file is sparse)
# Mount points the agent mounts over; made on the disk so a read-only root still has them.
GUEST_MOUNTS = ("proc", "sys", "dev")


def _tree_bytes(tree: Path) -> int:
    return sum(path.lstat().st_size for path in tree.rglob("*"))


def make_disk(tree: Path, mounts: Iterable[MountSpec], disk: Path) -> None:
    """The disk at ``disk``: a copy of ``tree`` with every file mount copied to its path."""
    staging = disk.with_name(disk.name + ".tree")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        subprocess.run(["cp", "-a", str(tree), str(staging)], check=True, capture_output=True)
        for name in GUEST_MOUNTS:
            (staging / name).mkdir(exist_ok=True)
        for mount in mounts:
            target = staging / mount.container_path.lstrip("/")
            if not target.resolve().is_relative_to(staging.resolve()):
                raise InvalidArgument(f"mount target {mount.container_path} leaves the root")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            shutil.copyfile(mount.host_path, target)
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
