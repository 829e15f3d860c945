"""The machine the runtime runs on, for tests that compare a container with it.

The suites assume the runtime runs on the machine that runs pytest (the host paths they mount
come from tmp_path), so the host side of a comparison is read right here. Functions named
``*_missing`` return why a prerequisite is absent (for ``pytest.skip``), or None.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.probes import KERNEL_ID
from linux_capabilities import decode_caps

APPARMOR_ENABLED = Path("/sys/module/apparmor/parameters/enabled")
SELINUX_FS = Path("/sys/fs/selinux")


def namespace(kind: str) -> str:
    """This process's namespace link with its kernel, as ``probes.namespace_link`` gives a
    container's (which says why the kernel)."""
    kernel = Path(KERNEL_ID).read_text().strip()
    return f"{os.readlink(f'/proc/self/ns/{kind}')} of kernel {kernel}"


def interfaces() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def bounding_capabilities() -> frozenset[str]:
    """The capabilities this machine lets any process have (its own bounding set)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return decode_caps(line.split(":", 1)[1].strip())
    raise AssertionError("/proc/self/status has no CapBnd line")


def apparmor_missing() -> str | None:
    if not APPARMOR_ENABLED.exists() or not APPARMOR_ENABLED.read_text().startswith("Y"):
        return f"AppArmor is not enabled on this host ({APPARMOR_ENABLED} is missing or not Y)"
    if shutil.which("apparmor_parser") is None:
        return "AppArmor is enabled but apparmor_parser is not installed to load test profiles"
    return None


def selinux_missing() -> str | None:
    enforce = SELINUX_FS / "enforce"
    if not enforce.exists():
        return f"SELinux is not enabled on this host ({enforce} is missing)"
    return None


def mount_missing() -> str | None:
    if os.geteuid() != 0:
        return "making host mounts (for mount propagation) needs root on the runtime's host"
    if shutil.which("mount") is None:
        return "the mount command (util-linux) is not installed"
    return None


def tool_missing(*names: str) -> str | None:
    absent = [name for name in names if shutil.which(name) is None]
    return f"{', '.join(absent)} not installed on this host" if absent else None


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"host command {list(command)} failed: {done.stderr.strip()}")
    return done.stdout


def bind_mount(source: Path, target: Path) -> None:
    _run("mount", "--bind", str(source), str(target))


def unmount(target: Path) -> None:
    """Detach ``target`` and everything below it, even when still busy."""
    _run("umount", "--recursive", "--lazy", str(target))


@contextmanager
def shared_mount(path: Path) -> Iterator[Path]:
    """``path`` bind-mounted onto itself and made rshared, so mounts below it propagate.

    Runtimes refuse HOST_TO_CONTAINER and BIDIRECTIONAL propagation from a private mount,
    and the root of a test machine often is one.
    """
    path.mkdir(parents=True, exist_ok=True)
    bind_mount(path, path)
    try:
        _run("mount", "--make-rshared", str(path))
        yield path
    finally:
        unmount(path)


@contextmanager
def apparmor_profiles(policy: str, directory: Path) -> Iterator[None]:
    """Load an AppArmor ``policy`` (one or more profiles) into the kernel; unload afterwards."""
    source = directory / "profiles.apparmor"
    source.write_text(policy)
    _run("apparmor_parser", "--replace", str(source))
    try:
        yield
    finally:
        _run("apparmor_parser", "--remove", str(source))


def shared_memory_keys(table: str) -> dict[str, str]:
    """Key -> id of each segment in a ``/proc/sysvipc/shm`` table (decimal, as printed)."""
    rows = [line.split() for line in table.splitlines()[1:] if line.strip()]
    return {row[0]: row[1] for row in rows}


@contextmanager
def shared_memory_segment(size: int = 4096) -> Iterator[str]:
    """A System V shared memory segment on the host; yields its key, removes it afterwards.

    The key (random) names the segment; ids restart at 0 in every IPC namespace.
    """
    shmid = _run("ipcmk", "--shmem", str(size)).strip().rsplit(" ", 1)[-1]
    try:
        keys = shared_memory_keys(Path("/proc/sysvipc/shm").read_text())
        [key] = [key for key, segment in keys.items() if segment == shmid]
        yield key
    finally:
        _run("ipcrm", "--shmem-id", shmid)
