"""``python -m reference_shim.backends.microvm.mount_into PID SOURCE TARGET``: a copy of the mount
tree at SOURCE, as this process sees it now, attached at TARGET in the mount namespace of PID.

Why (``pod_shares``): a shared pod VM's holder namespace was copied from the host's when the pod
started, and the host's root mount is private here, so a mount the host makes later (the shared
folder a container mounts with host-to-container propagation, or any mount point made after the
pod) never appears in it; binding there would bind the folder under it. The new mount API
carries it across: ``open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`` clones the tree into a
detached mount without touching the host's mount table, and ``move_mount`` attaches it in the
holder's namespace after ``setns``. ``setns`` into a mount namespace needs a process of one
thread, hence a process of its own. Python's ``os`` has neither call (3.11; ``os.setns`` is
3.12's), nor has a package here: ctypes, with x86_64's syscall numbers.
"""

from __future__ import annotations

import ctypes
import os
import sys

SYS_OPEN_TREE, SYS_MOVE_MOUNT = 428, 429  # x86_64
AT_FDCWD = -100
OPEN_TREE_CLONE, AT_RECURSIVE = 1, 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
CLONE_NEWNS = 0x00020000


def _check(result: int, what: str) -> int:
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")
    return result


def mount_into(pid: int, source: str, target: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    flags = OPEN_TREE_CLONE | os.O_CLOEXEC | AT_RECURSIVE
    tree = _check(
        libc.syscall(SYS_OPEN_TREE, AT_FDCWD, source.encode(), ctypes.c_uint(flags)),
        f"open_tree {source}",
    )
    namespace = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    _check(libc.setns(namespace, CLONE_NEWNS), f"setns into the mount namespace of {pid}")
    empty = ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH)
    _check(
        libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(), empty),
        f"move_mount to {target}",
    )


if __name__ == "__main__":
    try:
        mount_into(int(sys.argv[1]), sys.argv[2], sys.argv[3])
    except (OSError, ValueError, IndexError) as failure:
        sys.exit(f"mount_into: {failure}")
