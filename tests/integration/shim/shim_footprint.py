"""What a running shim holds, read from /proc: threads, file descriptors, memory, processes.

Leak checks compare a footprint taken before a test with the one the shim settles to after it.
Pools fill once and then stay (gRPC's 16 workers, 10 idle connections per Docker API client),
so a shim is warmed up before the first footprint is taken.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Footprint:
    threads: int
    fds: int
    rss_kib: int

    @classmethod
    def of(cls, pid: int) -> Footprint:
        status = (PROC / str(pid) / "status").read_text()
        rss = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return cls(
            threads=len(os.listdir(PROC / str(pid) / "task")),
            fds=len(os.listdir(PROC / str(pid) / "fd")),
            rss_kib=int(rss),
        )

    def within(self, other: Footprint) -> bool:
        """No more threads and file descriptors than ``other``."""
        return self.threads <= other.threads and self.fds <= other.fds

    def __str__(self) -> str:
        return f"{self.threads} threads, {self.fds} fds, {self.rss_kib // 1024} MiB RSS"


def settle(pid: int, before: Footprint, timeout: float = 15.0) -> Footprint:
    """The footprint once it is back within ``before``; fails naming both if it never is."""
    deadline = time.monotonic() + timeout
    while not (now := Footprint.of(pid)).within(before):
        assert time.monotonic() < deadline, (
            f"the shim holds more than before the test, {timeout:g} s after it: "
            f"{now} (before: {before})"
        )
        time.sleep(0.1)
    return now


def processes_with(marker: str) -> list[int]:
    """Host processes whose command line holds ``marker`` (those of every container too)."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:  # it ended
            continue
        if marker.encode() in command and entry.name != str(os.getpid()):
            found.append(int(entry.name))
    return found


def seconds_until_gone(marker: str, timeout: float) -> float:
    """How long until no process holds ``marker``; fails if some still do after ``timeout``."""
    started = time.monotonic()
    while remaining := processes_with(marker):
        assert time.monotonic() - started < timeout, (
            f"processes {remaining} ({marker}) still run {timeout:g} s after their client left"
        )
        time.sleep(0.02)
    return time.monotonic() - started
