"""The new mount API where ``mount(8)`` lacks it, as a command run in the right namespace:

- ``python -m reference_shim.backends.microvm.mount_api into PID SOURCE TARGET``: a copy of the
  mount tree at SOURCE, as this process sees it now, attached at TARGET in the mount namespace
  of PID. Why (``pod_shares``): a shared pod VM's holder namespace was copied from the host's
  when the pod started, and the host's root mount is private here, so a mount the host makes
  later (the shared folder a container mounts with host-to-container propagation, or any mount
  point made after the pod) never appears in it; binding there would bind the folder under it.
  ``open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`` clones the tree into a detached mount without
  touching the host's mount table, and ``move_mount`` attaches it in the holder's namespace
  after ``setns`` (which needs a process of one thread, hence a process of its own).
- ``python -m reference_shim.backends.microvm.mount_api readonly PATH``: the mount at PATH and
  every mount under it read-only (``mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)``), for a
  recursive read-only mount (CRI ``Mount.recursive_read_only``): util-linux 2.38 (Debian 12)
  has no ``ro=recursive``, and ``mount -o remount,bind,ro`` changes the top mount only.

Python's ``os`` has none of these calls (3.11), nor has a package here: ctypes, with x86_64's
syscall numbers.
"""

from __future__ import annotations

import ctypes
import os
import sys

SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_MOUNT_SETATTR = 428, 429, 442  # x86_64
AT_FDCWD = -100
OPEN_TREE_CLONE, AT_RECURSIVE = 1, 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
CLONE_NEWNS = 0x00020000


class MountAttr(ctypes.Structure):
    """``struct mount_attr`` (linux/mount.h)."""

    _fields_ = [  # ctypes reads the class attribute
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _check(result: int, what: str) -> int:
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")
    return result


def mount_into(pid: int, source: str, target: str) -> None:
    libc = _libc()
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


def make_readonly_tree(path: str) -> None:
    attr = MountAttr(attr_set=MOUNT_ATTR_RDONLY)
    _check(
        _libc().syscall(
            SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), ctypes.c_uint(AT_RECURSIVE),
            ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"mount_setattr {path} read-only, recursively",
    )  # fmt: skip


if __name__ == "__main__":
    try:
        if sys.argv[1] == "into":
            mount_into(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        elif sys.argv[1] == "readonly":
            make_readonly_tree(sys.argv[2])
        else:
            sys.exit(f"mount_api: unknown command {sys.argv[1]!r} (into, readonly)")
    except (OSError, ValueError, IndexError) as failure:
        sys.exit(f"mount_api: {failure}")
