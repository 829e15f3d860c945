"""The embedded default: with no endpoint given, the run tests the reference shim.

The first process of the run that needs a runtime starts the shim (under the run's setup
lock) and records its pid and endpoint in the shared folder; every other process reuses it;
the controller stops it once all tests and the leak sweep are done.

This module is the harness's only way into ``reference_shim`` (the ``cri-conformance shim``
subcommand goes through it too); the shim never imports the harness. Its imports of the shim
are lazy, so a run against another runtime loads none of the shim.
"""

from __future__ import annotations

import json
import shutil
import sys
from argparse import ArgumentParser, Namespace
from dataclasses import dataclass
from pathlib import Path

from harness.endpoints import EndpointError, Endpoints
from harness.processes import StartedProcess
from reference_shim import backends as shim_backends
from reference_shim import strategies as shim_strategies

# The names come from the shim's registries, the one list of each: two modules of the standard
# library's imports only, so reading them loads none of the shim.
STRATEGIES = tuple(shim_strategies.STRATEGIES)
BACKENDS = (shim_backends.AUTO, *shim_backends.BACKENDS)


@dataclass(frozen=True)
class EmbeddedShim:
    """How the run's shim is configured; recorded once started."""

    strategy: str = "reject"
    backend: str = "auto"

    @property
    def resolved_backend(self) -> str:
        """``auto`` means Apple's CLI on a Mac that has it, Docker everywhere else."""
        return shim_backends.resolve_backend(self.backend)

    @property
    def profile_name(self) -> str:
        """Docker's profile keeps its name; other backends have limits of their own."""
        backend = self.resolved_backend
        prefix = "reference-shim" if backend == "docker" else f"reference-shim-{backend}"
        return f"{prefix}-{self.strategy}"

    @property
    def column_name(self) -> str:
        return self.profile_name


def _record_path(shared_dir: Path) -> Path:
    return shared_dir / "embedded-shim.json"


def start(
    shim: EmbeddedShim, shared_dir: Path, pod_image: str, owner_pid: int | None = None
) -> Endpoints:
    """Start the run's shim unless another process did; the caller holds the setup lock. The
    shim stops by itself once process ``owner_pid`` (default: this one) ends: the process that
    stops it at the end of the run, so that a killed run leaves no shim behind."""
    record = _record_path(shared_dir)
    if record.exists():
        endpoint = json.loads(record.read_text())["endpoint"]
        return Endpoints(endpoint, endpoint, "embedded reference shim")
    from reference_shim import extra

    if (problem := extra.problem()) is not None:
        raise EndpointError(
            f"embedded reference shim ({shim.strategy}): {problem}, or test a runtime of your "
            "own with --cri-endpoint"
        )
    from reference_shim.launcher import LaunchError, ShimLauncher

    try:
        started = ShimLauncher(
            backend=shim.resolved_backend,
            strategy=shim.strategy,
            state_dir=shared_dir / "shim-state",
            pod_image=pod_image,
            stop_with_pid=owner_pid,
        ).start()
    except LaunchError as error:
        raise EndpointError(f"embedded reference shim ({shim.strategy}): {error}") from None
    if started.pid is None:  # start() returns only once the process it made answers
        raise EndpointError(f"embedded reference shim ({shim.strategy}): no process started")
    process = StartedProcess.of(started.pid)
    record.write_text(
        json.dumps(
            {
                "endpoint": started.endpoint,
                "pid": process.pid,
                "started_at": process.started_at,
                "workdir": str(started.socket.parent),
                "stderr": str(started.stderr_path),
            }
        )
    )
    return Endpoints(started.endpoint, started.endpoint, "embedded reference shim")


def stop(shared_dir: Path, grace: float = 15.0) -> None:
    """Stop the run's shim, if the run started one and it still runs: SIGTERM, then SIGKILL
    after ``grace``. Never a process that merely holds its pid now (harness/processes.py)."""
    record = _record_path(shared_dir)
    if not record.exists():
        return
    data = json.loads(record.read_text())
    StartedProcess(int(data["pid"]), float(data["started_at"])).stop(grace)
    shutil.rmtree(data["workdir"], ignore_errors=True)
    record.unlink()


def add_shim_arguments(parser: ArgumentParser) -> None:
    """The options of ``cri-conformance shim``, the shim's own (standard library only)."""
    from reference_shim.config import add_arguments

    add_arguments(parser)


def run_shim(args: Namespace) -> int:
    """Serve the shim in this process until it is stopped, as ``python -m reference_shim``."""
    from reference_shim import extra
    from reference_shim.config import from_arguments

    if (problem := extra.problem()) is not None:
        print(f"cri-conformance shim: {problem}", file=sys.stderr)
        return 1
    from reference_shim.server import serve

    return serve(from_arguments(args))
