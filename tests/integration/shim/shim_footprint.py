"""What a running shim holds, read from /proc and ``ss``: threads, file descriptors, memory,
and the processes of a session.

Leak checks compare a footprint taken before a test with the one the shim settles to after it.
Pools that fill once and then stay (gRPC's 16 workers) are filled by a warm-up first. Each of
the shim's two Docker API clients keeps up to 10 idle connections to the Engine
(``engine_client``), more or fewer as the load before left them: connections to the Engine that
are alive at both ends are therefore counted apart and held to that bound; everything else must
come back exactly: threads, client sockets, pipes, files, and Engine connections whose other end
is gone. A session that leaks holds a thread too, which is counted exactly.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from reference_shim.backends.docker.host import docker_host

PROC = Path("/proc")
FIGURES = pytest.StashKey[list[str]]()
"""What the robustness tests measured, one line each, for the terminal summary."""
ENGINE_POOLS = 2 * 10
"""The shim's two Docker API clients, with one pool of up to 10 idle connections each."""


def engine_connections(pid: int, engine_socket: str) -> int:
    """``pid``'s unix sockets whose other end is the Engine's socket, still open."""
    listing = subprocess.run(["ss", "-xpn"], capture_output=True, text=True, check=True).stdout
    engine_ends, peers = set(), []
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        local, inode, peer = fields[4], fields[5], fields[7]
        if local == engine_socket:
            engine_ends.add(inode)
        if f"pid={pid}," in line:
            peers.append(peer)
    return sum(peer in engine_ends for peer in peers)


@dataclass(frozen=True)
class Footprint:
    threads: int
    fds: int
    engine: int
    """Of ``fds``: connections to the Docker Engine, alive at both ends."""
    rss_kib: int
    open_files: tuple[str, ...] = ()
    """What each descriptor is (``/proc/<pid>/fd`` links), to name what a leak left."""

    @classmethod
    def of(cls, pid: int) -> Footprint:
        status = (PROC / str(pid) / "status").read_text()
        rss = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        fd_folder = PROC / str(pid) / "fd"
        links = []
        for fd in os.listdir(fd_folder):
            with contextlib.suppress(FileNotFoundError):
                links.append(os.readlink(fd_folder / fd))
        return cls(
            threads=len(os.listdir(PROC / str(pid) / "task")),
            fds=len(links),
            engine=engine_connections(pid, docker_host().removeprefix("unix://")),
            rss_kib=int(rss),
            open_files=tuple(sorted(links)),
        )

    def within(self, before: Footprint) -> bool:
        """No thread and no descriptor more than ``before``, but for idle pooled ones."""
        return (
            self.threads <= before.threads
            and self.fds - self.engine <= before.fds - before.engine
            and self.engine <= before.engine + ENGINE_POOLS
        )

    def __str__(self) -> str:
        return (
            f"{self.threads} threads, {self.fds} fds ({self.engine} to the Engine), "
            f"{self.rss_kib // 1024} MiB RSS"
        )


def settle(pid: int, before: Footprint, timeout: float = 15.0) -> Footprint:
    """The footprint once it is back within ``before``; fails naming both if it never is."""
    deadline = time.monotonic() + timeout
    while not (now := Footprint.of(pid)).within(before):
        new = Counter(now.open_files) - Counter(before.open_files)
        assert time.monotonic() < deadline, (
            f"the shim holds more than before the test, {timeout:g} s after it: "
            f"{now} (before: {before}); new: {sorted(new.elements())}"
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
