"""Privileged mode and ``ALL`` capabilities, granted as the host allows.

Docker 20.10 asks runc for every capability it knows when a container is privileged (or is
given ``ALL``), and runc fails ("unable to apply caps") on a host whose own bounding set lacks
one, such as a VM without CAP_SYS_RESOURCE. containerd grants the host's bounding set instead;
so does this module, and it spells out the rest of privileged mode: no seccomp, AppArmor or
masked paths, a read-write sysfs, every host device.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from docker.types import Mount

from reference_shim.backends.proc_status import own_bounding_set

# Capabilities newer than Docker 20.10's table (Linux 5.8-5.9): it refuses to add them.
DOCKER_UNKNOWN = frozenset({"PERFMON", "BPF", "CHECKPOINT_RESTORE"})

# Folders of /dev whose nodes are per container, never the host's (as Docker skips them).
_PER_CONTAINER_DEV = ("/dev/pts", "/dev/shm", "/dev/mqueue")


def host_capabilities() -> tuple[str, ...]:
    """The bounding set of this process (on the Docker host) that Docker can grant."""
    return tuple(sorted(own_bounding_set() - DOCKER_UNKNOWN))


def host_devices(root: str = "/dev") -> list[str]:
    """Every character and block device node under ``root``, as Docker ``devices`` entries."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [
            name for name in subfolders if os.path.join(folder, name) not in _PER_CONTAINER_DEV
        ]
        for name in files:
            path = os.path.join(folder, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                found.append(f"{path}:{path}:rwm")
    return sorted(found)


def expand_all(cap_add: tuple[str, ...], cap_drop: tuple[str, ...]) -> list[str] | None:
    """``ALL`` becomes the host's capabilities but those dropped (Docker would let an added
    capability win over a dropped one); other names pass through."""
    if "ALL" not in cap_add:
        return list(cap_add) or None
    return [name for name in host_capabilities() if name not in cap_drop]


def privileged_args(mounts: list[Mount]) -> dict[str, Any]:
    """HostConfig arguments of a privileged container, in place of ``privileged=True``.

    Nothing masked or read-only in /proc is ``UNMASKED_PATHS`` (HostConfig fields the SDK
    has no argument for).
    """
    return {
        "privileged": False,
        "cap_drop": ["ALL"],
        "cap_add": list(host_capabilities()),
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
        "devices": host_devices() or None,
        "device_cgroup_rules": ["a *:* rwm"],
        "mounts": [*mounts, Mount(target="/sys", source="/sys", type="bind", read_only=False)],
    }


UNMASKED_PATHS: dict[str, list[str]] = {"MaskedPaths": [], "ReadonlyPaths": []}
