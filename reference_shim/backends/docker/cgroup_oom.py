"""OOM kills the kernel announces on a VM's memory cgroup, for the ones Docker misses.

Docker 20.10 hears of an OOM kill from containerd's runc shim, which starts watching the
container's memory cgroup only once the container's process runs. A workload that breaches
its limit in its first milliseconds can be killed before that watch exists; Docker then reports
exit 137 with ``OOMKilled`` false and sends no ``oom`` event (2 of 30 such containers on a
loaded 2-core machine). Reading the cgroup's ``oom_kill`` counter at the exit is no way out:
Docker has runc remove the cgroup before it announces the exit (measured: the directory was
gone at every ``die`` event).

So the shim watches the cgroup itself, from before the process exists: right after Docker
creates the VM it creates the VM's memory cgroup where runc will put it (cgroupfs driver:
``<cgroup parent>/<container id>``; runc reuses an existing directory) and registers an
eventfd for the cgroup's OOM notifications (cgroup v1: ``memory.oom_control`` through
``cgroup.event_control``). The kernel signals it when the cgroup runs out of memory, and once
more after the cgroup is removed. A signal while the directory still exists is therefore an
OOM, and so is any second signal.

Only for a local Docker Engine that uses the cgroupfs driver on cgroup v1, and a shim allowed
to write there; elsewhere the shim relies on Docker's events alone (``events``). Each OOM
it sees is also handed to ``on_oom``, so that the shim hears of it as of Docker's own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DOCKER_DEFAULT_PARENT = "/docker"  # cgroupfs driver, dockerd without --cgroup-parent
_POLL_S = 0.5


@dataclass
class _Watch:
    cgroup: Path
    eventfd: int
    control: int
    signals: int = 0
    oom: bool = False


def memory_hierarchy(mountinfo: str) -> Path | None:
    """Where the cgroup v1 memory controller is mounted, from /proc/self/mountinfo."""
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line:
            continue
        after = line.split(" - ", 1)[1].split()
        if len(after) >= 3 and after[0] == "cgroup" and "memory" in after[2].split(","):
            return Path(fields[4])
    return None


class CgroupOomWatch:
    def __init__(self, memory_root: Path, on_oom: Callable[[str], None]) -> None:
        self._root = memory_root
        self._on_oom = on_oom
        self._watches: dict[str, _Watch] = {}
        self._by_eventfd: dict[int, str] = {}
        self._lock = threading.Lock()
        self._epoll = select.epoll()
        self._stopped = threading.Event()

    @classmethod
    def for_engine(
        cls, info: dict[str, Any], base_url: str, on_oom: Callable[[str], None]
    ) -> CgroupOomWatch | None:
        """A watch for the Engine ``info`` describes, or None where it cannot work."""
        root = memory_hierarchy(Path("/proc/self/mountinfo").read_text())
        reasons = {
            "the Docker Engine is not local": not base_url.startswith(("unix:", "http+unix:")),
            "Docker does not use the cgroupfs driver": info.get("CgroupDriver") != "cgroupfs",
            "the cgroups are not v1": str(info.get("CgroupVersion", "1")) != "1",
            "no cgroup v1 memory hierarchy is mounted": root is None,
            "the shim may not write to the memory hierarchy": root is not None
            and not os.access(root, os.W_OK),
        }
        unusable = [reason for reason, holds in reasons.items() if holds]
        if unusable or root is None:
            log.info("OOM kills are seen through Docker's events only: %s", "; ".join(unusable))
            return None
        return cls(root, on_oom)

    def start(self) -> None:
        threading.Thread(target=self._follow, name="cgroup-oom-watch", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        for vm_id in list(self._watches):
            self._close(vm_id)

    def watch(self, vm_id: str, cgroup_parent: str) -> None:
        """Create ``vm_id``'s memory cgroup before it starts and follow its OOM notifications."""
        parent = (cgroup_parent or DOCKER_DEFAULT_PARENT).strip("/")
        cgroup = self._root / parent / vm_id
        try:
            cgroup.mkdir(parents=True, exist_ok=True)
            control = os.open(cgroup / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            log.warning("not watching VM %s for OOM kills: %s", vm_id[:12], error)
            with contextlib.suppress(OSError):  # leave no cgroup behind that runc will not use
                cgroup.rmdir()
            return
        eventfd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            (cgroup / "cgroup.event_control").write_text(f"{eventfd} {control}")
        except OSError as error:
            log.warning("not watching VM %s for OOM kills: %s", vm_id[:12], error)
            os.close(eventfd)
            os.close(control)
            return
        with self._lock:
            self._watches[vm_id] = _Watch(cgroup, eventfd, control)
            self._by_eventfd[eventfd] = vm_id
        self._epoll.register(eventfd, select.EPOLLIN)

    def was_killed(self, vm_id: str) -> bool:
        with self._lock:
            watch = self._watches.get(vm_id)
            return watch is not None and watch.oom

    def forget(self, vm_id: str) -> None:
        """Stop watching a removed VM; remove its cgroup if runc never used (and removed) it."""
        cgroup = self._close(vm_id)
        if cgroup is not None:
            with contextlib.suppress(OSError):  # gone, as usual, or still in use: not ours to touch
                cgroup.rmdir()

    def _close(self, vm_id: str) -> Path | None:
        with self._lock:
            watch = self._watches.pop(vm_id, None)
            if watch is None:
                return None
            self._by_eventfd.pop(watch.eventfd, None)
        with contextlib.suppress(OSError):
            self._epoll.unregister(watch.eventfd)
        os.close(watch.eventfd)
        os.close(watch.control)
        return watch.cgroup

    def _follow(self) -> None:
        while not self._stopped.is_set():
            for eventfd, _ in self._epoll.poll(_POLL_S):
                self._signalled(eventfd)
        self._epoll.close()

    def _signalled(self, eventfd: int) -> None:
        with self._lock:
            vm_id = self._by_eventfd.get(eventfd)
            watch = self._watches.get(vm_id) if vm_id else None
            if watch is None or vm_id is None:
                return
            try:
                watch.signals += os.eventfd_read(eventfd)
            except BlockingIOError:
                return
            # The removal's signal comes after the directory is gone, and only once.
            newly = not watch.oom and (watch.cgroup.is_dir() or watch.signals >= 2)
            watch.oom = watch.oom or newly
        if newly:
            log.info("VM %s: its memory cgroup ran out of memory", vm_id)
            self._on_oom(vm_id)
