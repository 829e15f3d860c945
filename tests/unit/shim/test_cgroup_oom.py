"""The cgroup OOM watch tells an OOM notification from the cgroup's removal.

The kernel is played by the test: the memory hierarchy is a folder, ``cgroup.event_control`` a
plain file that records the registration ("<eventfd> <control fd>"), and the test signals that
eventfd as the kernel would, on OOM (directory still there) and after the removal (gone).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_shim.backends.docker.cgroup_oom import CgroupOomWatch, memory_hierarchy

VM = "f" * 64


@pytest.fixture
def announced() -> list[str]:
    """The VMs the watch handed to ``on_oom``."""
    return []


@pytest.fixture
def watch(tmp_path: Path, announced: list[str]) -> Iterator[CgroupOomWatch]:
    watcher = CgroupOomWatch(tmp_path, announced.append)
    watcher.start()
    yield watcher
    watcher.stop()


def kernel_prepared(root: Path, parent: str = "docker") -> Path:
    """The files the kernel shows in a new memory cgroup that matter here."""
    cgroup = root / parent / VM
    cgroup.mkdir(parents=True)
    (cgroup / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    (cgroup / "cgroup.event_control").write_text("")
    return cgroup


def registered_eventfd(cgroup: Path) -> int:
    return int((cgroup / "cgroup.event_control").read_text().split()[0])


def remove(cgroup: Path) -> None:
    for item in cgroup.iterdir():
        item.unlink()
    cgroup.rmdir()


def settles(watch: CgroupOomWatch, killed: bool) -> bool:
    """Whether ``was_killed`` reads ``killed`` within a second (the watch has its own thread)."""
    deadline = time.monotonic() + 1
    while watch.was_killed(VM) != killed and time.monotonic() < deadline:
        time.sleep(0.01)
    return watch.was_killed(VM) == killed


def test_a_signal_while_the_cgroup_exists_is_an_oom(
    watch: CgroupOomWatch, tmp_path: Path, announced: list[str]
) -> None:
    cgroup = kernel_prepared(tmp_path)
    watch.watch(VM, "")
    os.eventfd_write(registered_eventfd(cgroup), 1)
    assert settles(watch, killed=True)
    os.eventfd_write(registered_eventfd(cgroup), 1)  # under OOM again: announced once
    time.sleep(0.3)
    assert announced == [VM], "the shim hears of the OOM as of Docker's own"


def test_the_removal_alone_is_no_oom(
    watch: CgroupOomWatch, tmp_path: Path, announced: list[str]
) -> None:
    cgroup = kernel_prepared(tmp_path)
    watch.watch(VM, "")
    eventfd = registered_eventfd(cgroup)
    remove(cgroup)
    os.eventfd_write(eventfd, 1)
    time.sleep(0.3)
    assert not watch.was_killed(VM)
    assert announced == []


def test_an_oom_seen_only_after_the_removal_counts_by_its_second_signal(
    watch: CgroupOomWatch, tmp_path: Path
) -> None:
    cgroup = kernel_prepared(tmp_path)
    watch.watch(VM, "")
    eventfd = registered_eventfd(cgroup)
    remove(cgroup)  # the watch is slower than Docker: OOM, exit and removal before it looks
    os.eventfd_write(eventfd, 1)
    os.eventfd_write(eventfd, 1)
    assert settles(watch, killed=True)


def test_the_watch_registers_on_the_cgroup_under_the_vms_parent(
    watch: CgroupOomWatch, tmp_path: Path
) -> None:
    cgroup = kernel_prepared(tmp_path, "pods/one")
    watch.watch(VM, "/pods/one")
    eventfd, control = (cgroup / "cgroup.event_control").read_text().split()
    assert os.readlink(f"/proc/self/fd/{control}") == str(cgroup / "memory.oom_control")
    assert os.readlink(f"/proc/self/fd/{eventfd}") == "anon_inode:[eventfd]"


def test_a_cgroup_that_cannot_be_watched_is_not_left_behind(
    watch: CgroupOomWatch, tmp_path: Path
) -> None:
    watch.watch(VM, "")  # a plain folder has no memory.oom_control to open
    assert not (tmp_path / "docker" / VM).exists()
    assert not watch.was_killed(VM)


def test_the_memory_hierarchy_is_found_in_mountinfo() -> None:
    mountinfo = (
        "30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu\n"
        "34 25 0:30 / /sys/fs/cgroup/memory rw,relatime shared:13 - cgroup cgroup rw,memory\n"
    )
    assert memory_hierarchy(mountinfo) == Path("/sys/fs/cgroup/memory")
    assert memory_hierarchy("35 25 0:31 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n") is None
