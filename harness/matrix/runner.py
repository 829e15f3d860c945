"""``cri-conformance run``: the suite once per target, each in its own pytest process, then
one merged matrix.

Each target writes its reports into ``REPORT_DIR/<name>/``; the merged ``matrix.{json,md,html}``
lands in ``REPORT_DIR``. Runs go one after another: they share the test-image registry on
loopback and the machine's two cores.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from harness.endpoints import normalize
from harness.matrix.document import Matrix, load, merge
from harness.matrix.outputs import JSON_FILE, write_reports

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class RunError(Exception):
    """A target or option that cannot be used; the message says what to give instead."""

    exit_code = 2


@dataclass(frozen=True)
class Target:
    """One runtime to run the suite against: ``NAME=ENDPOINT``."""

    name: str
    endpoint: str
    profile: str | None = None


def parse_target(spec: str) -> Target:
    name, sep, endpoint = spec.partition("=")
    if not sep or not endpoint:
        raise RunError(f"--target {spec!r}: give NAME=ENDPOINT, e.g. containerd=unix:///run/c.sock")
    if not NAME.match(name):
        raise RunError(f"--target {spec!r}: the name may hold letters, digits, '.', '_' and '-'")
    return Target(name, endpoint)


def with_profiles(targets: list[Target], specs: Sequence[str]) -> list[Target]:
    """Apply ``--profile NAME=PROFILE`` options to the targets they name."""
    profiles: dict[str, str] = {}
    names = {target.name for target in targets}
    for spec in specs:
        name, sep, profile = spec.partition("=")
        if not sep or not profile or name not in names:
            raise RunError(
                f"--profile {spec!r}: give TARGET=PROFILE for one of the targets "
                f"({', '.join(sorted(names))})"
            )
        profiles[name] = profile
    return [Target(t.name, t.endpoint, profiles.get(t.name)) for t in targets]


# -- where a target's endpoint comes from ---------------------------------------------------
# A scheme maps to a function that checks its argument at once and returns a context manager
# serving the target for the length of its run, yielding the socket to test. Unix sockets need
# nothing; ``embedded:<strategy>`` starts the reference shim (Docker backend) for the run.
# Another kind of target (a VM, a remote node behind a tunnel) is one more entry.

Provider = Callable[[str], AbstractContextManager[str]]


def _embedded(strategy: str) -> AbstractContextManager[str]:
    from reference_shim.config import STRATEGIES

    if strategy not in STRATEGIES:
        raise RunError(
            f"embedded:{strategy}: the reference shim's strategies are {', '.join(STRATEGIES)}"
        )
    return _shim_serving(strategy)


@contextmanager
def _shim_serving(strategy: str) -> Iterator[str]:
    from reference_shim.launcher import ShimLauncher

    shim = ShimLauncher(backend="docker", strategy=strategy)
    try:
        with shim:
            yield shim.endpoint
    finally:
        shutil.rmtree(shim.socket.parent, ignore_errors=True)  # the launcher's temporary folder


PROVIDERS: dict[str, Provider] = {"embedded": _embedded}


def serving(target: Target) -> AbstractContextManager[str]:
    scheme, sep, rest = target.endpoint.partition(":")
    provider = PROVIDERS.get(scheme) if sep else None
    return provider(rest) if provider else nullcontext(normalize(target.endpoint))


# -- the runs -------------------------------------------------------------------------------


def pytest_command(
    target: Target, endpoint: str, report_dir: Path, suites: Path, pytest_args: Sequence[str]
) -> list[str]:
    command = [sys.executable, "-m", "pytest", str(suites), "--cri-endpoint", endpoint]
    command += ["--runtime-name", target.name, "--report-dir", str(report_dir)]
    if target.profile:
        command += ["--runtime-profile", target.profile]
    return [*command, *pytest_args]


def run_targets(
    targets: Sequence[Target],
    report_dir: Path,
    suites: Path,
    pytest_args: Sequence[str] = (),
) -> int:
    """Run every target, merge what they wrote; the worst pytest exit code, 0 when all passed."""
    if not targets:
        raise RunError("give at least one --target NAME=ENDPOINT")
    names = [target.name for target in targets]
    if len(set(names)) != len(names):
        raise RunError(f"target names must differ: {', '.join(names)}")
    servers = [serving(target) for target in targets]  # refuses a bad endpoint before any run
    codes: list[int] = []
    matrices: list[tuple[str, Matrix]] = []
    for target, server in zip(targets, servers, strict=True):
        target_dir = report_dir / target.name
        (target_dir / JSON_FILE).unlink(missing_ok=True)  # never merge an earlier run's matrix
        with server as endpoint:
            command = pytest_command(target, endpoint, target_dir, suites, pytest_args)
            print(f"cri-conformance run: {target.name}: {' '.join(command)}", flush=True)
            codes.append(subprocess.run(command, check=False).returncode)
        matrix_path = target_dir / JSON_FILE
        if matrix_path.exists():
            matrices.append((str(matrix_path), load(matrix_path)))
        else:
            print(f"cri-conformance run: {target.name} wrote no matrix (exit {codes[-1]})")
    if matrices:
        written = write_reports(merge(matrices), report_dir)
        print(f"cri-conformance run: merged matrix of {len(matrices)} run(s): {written[0]}")
    return max(codes)
