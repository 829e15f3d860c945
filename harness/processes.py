"""Processes the run started and later stops from another process: known by pid *and* start time.

The run's embedded shim and its own registry are started by one process of the run (a
pytest-xdist worker, say) and stopped by another (the controller, at the end), so the stopper
holds no handle on them, only what was recorded. A pid alone is not enough: when the process
has ended by itself (a crash), the pid is free again, and on a busy node (Linux's default
pid_max is 32768) another process soon has it. Signalling that pid would stop a process the run
never started. psutil gives every process's start time on Linux and macOS; a recorded pid is
signalled only while the process holding it started when the recorded one did.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class StartedProcess:
    """A process this run started, as recorded for whoever stops it."""

    pid: int
    started_at: float  # psutil's create_time(): seconds since the epoch

    @classmethod
    def of(cls, pid: int) -> StartedProcess:
        """Identify a process that runs now (call it right after starting it)."""
        return cls(pid, psutil.Process(pid).create_time())

    def current(self) -> psutil.Process | None:
        """The process, while it still runs; None once it ended, whoever holds the pid now."""
        try:
            process = psutil.Process(self.pid)
            same = process.create_time() == self.started_at
        except psutil.NoSuchProcess:
            return None
        return process if same and process.status() != psutil.STATUS_ZOMBIE else None

    def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; nothing once the process has ended."""
        process = self.current()
        if process is None:
            return
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(grace)
        except psutil.NoSuchProcess:
            return
        except psutil.TimeoutExpired:
            process.kill()


def run_owner_pid() -> int:
    """The process that ends the run: pytest-xdist's controller, whose child a worker is
    (execnet starts each worker as a subprocess of the controller), or this one without xdist.
    What a worker starts for the whole run must live until that process ends, not the worker."""
    return os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()
