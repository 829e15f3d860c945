"""``cri-conformance run``: the suite once per target, each in its own pytest process, then
one merged matrix.

Each target writes its reports into ``REPORT_DIR/<name>/``; the merged ``matrix.{json,md,html}``
lands in ``REPORT_DIR``, its columns in the order the targets were given. Runs go one after
another, or ``parallel`` at a time: runs against different runtimes share only the test-image
registry, which they read. A parallel run writes its terminal output into
``REPORT_DIR/<name>/pytest.log``, printed whole when it ends, and the runs start longest first
when a matrix of an earlier run (its ``duration_s``) says which that is. Endpoints reach a run
only through its command line, never the environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.embedded import STRATEGIES, EmbeddedShim
from harness.endpoints import IMAGE_ENV, RUNTIME_ENV, crictl_config_file, normalize, resolve
from harness.matrix.document import Matrix, load, merge
from harness.matrix.outputs import JSON_FILE, write_reports
from harness.package_data import SUITES_PACKAGE

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LOG_FILE = "pytest.log"


class RunError(Exception):
    """A target or option that cannot be used; the message says what to give instead."""

    exit_code = 2


@dataclass(frozen=True)
class Target:
    """One runtime to run the suite against: ``NAME=ENDPOINT``."""

    name: str
    endpoint: str
    profile: str | None = None
    handler: str | None = None  # the runtime handler of every pod (--runtime-handler)


def parse_target(spec: str) -> Target:
    name, sep, endpoint = spec.partition("=")
    if not sep or not endpoint:
        raise RunError(f"--target {spec!r}: give NAME=ENDPOINT, e.g. containerd=unix:///run/c.sock")
    if not NAME.match(name):
        raise RunError(f"--target {spec!r}: the name may hold letters, digits, '.', '_' and '-'")
    return Target(name, endpoint)


def with_profiles(targets: list[Target], specs: Sequence[str]) -> list[Target]:
    """Apply ``--profile NAME=PROFILE`` options to the targets they name."""
    profiles = _per_target("--profile", "PROFILE", targets, specs)
    return [replace(t, profile=profiles.get(t.name, t.profile)) for t in targets]


def with_handlers(targets: list[Target], specs: Sequence[str]) -> list[Target]:
    """Apply ``--runtime-handler NAME=HANDLER`` options to the targets they name."""
    handlers = _per_target("--runtime-handler", "HANDLER", targets, specs)
    return [replace(t, handler=handlers.get(t.name, t.handler)) for t in targets]


def _per_target(
    option: str, value: str, targets: list[Target], specs: Sequence[str]
) -> dict[str, str]:
    given: dict[str, str] = {}
    names = {target.name for target in targets}
    for spec in specs:
        name, sep, setting = spec.partition("=")
        if not sep or not setting or name not in names:
            raise RunError(
                f"{option} {spec!r}: give TARGET={value} for one of the targets "
                f"({', '.join(sorted(names))})"
            )
        given[name] = setting
    return given


# -- how pytest reaches a target -------------------------------------------------------------
# A scheme maps to a function that checks its argument at once and says which pytest options
# reach the target. A plain socket is ``--cri-endpoint``. ``embedded:<strategy>`` is the
# plugin's embedded default (no endpoint: the run starts the reference shim and stops it at
# the end) with ``--cri-shim-strategy``. Another kind of target is one more entry.


@dataclass(frozen=True)
class Access:
    options: list[str]
    default_profile: str | None = None


def _socket(endpoint: str) -> Access:
    endpoint = normalize(endpoint)
    return Access(["--cri-endpoint", endpoint, "--cri-image-endpoint", endpoint])


def _embedded(strategy: str) -> Access:
    if strategy not in STRATEGIES:
        raise RunError(
            f"embedded:{strategy}: the reference shim's strategies are {', '.join(STRATEGIES)}"
        )
    environment = child_environment()
    if resolve(None, None, environ=environment) is not None:
        _, config_file = crictl_config_file(environment)
        raise RunError(
            f"embedded:{strategy}: {config_file} names an endpoint, so the run would test "
            "that runtime instead of the shim; give the shim as NAME=unix:///path"
        )
    return Access(["--cri-shim-strategy", strategy], EmbeddedShim(strategy).profile_name)


SCHEMES: dict[str, Callable[[str], Access]] = {"embedded": _embedded}


def access(target: Target) -> Access:
    scheme, sep, rest = target.endpoint.partition(":")
    chosen = SCHEMES.get(scheme) if sep else None
    return chosen(rest) if chosen else _socket(target.endpoint)


def child_environment() -> dict[str, str]:
    """The runs' environment: endpoints come from the command line only."""
    return {k: v for k, v in os.environ.items() if k not in (RUNTIME_ENV, IMAGE_ENV)}


# -- the runs -------------------------------------------------------------------------------


# The installed suite, named as a package: the run's rootdir (and pytest's cache) stays in the
# folder the run starts in, never inside site-packages.
INSTALLED_SUITES = ("--pyargs", SUITES_PACKAGE)


def pytest_command(
    target: Target,
    reach: Access,
    report_dir: Path,
    suites: Sequence[str],
    pytest_args: Sequence[str],
) -> list[str]:
    """``suites``: what names the suite to pytest (INSTALLED_SUITES, or a path)."""
    command = [sys.executable, "-m", "pytest", *suites, *reach.options]
    command += ["--cri-runtime-name", target.name, "--cri-report-dir", str(report_dir)]
    profile = target.profile or reach.default_profile
    if profile:
        command += ["--cri-runtime-profile", profile]
    if target.handler:
        command += ["--cri-runtime-handler", target.handler]
    return [*command, *pytest_args]


def _last_lines(log: Path, count: int = 15) -> str:
    """The end of a captured run's output, repeated under the summary: a CI log often keeps
    only its tail, and the reason a run wrote no matrix is the first thing its reader needs."""
    if not log.exists():
        return ""
    lines = log.read_text(errors="replace").splitlines()[-count:]
    return "".join(f"  | {line}\n" for line in lines)


def run_targets(
    targets: Sequence[Target],
    report_dir: Path,
    suites: Sequence[str] = INSTALLED_SUITES,
    pytest_args: Sequence[str] = (),
    parallel: int = 1,
    durations: dict[str, float] | None = None,
) -> int:
    """Run every target, ``parallel`` at a time, longest first by ``durations`` (seconds a
    column took before; unknown ones first), and merge what they wrote in the targets' order.
    The worst pytest exit code, 0 when all passed."""
    if not targets:
        raise RunError("give at least one --target NAME=ENDPOINT")
    names = [target.name for target in targets]
    if len(set(names)) != len(names):
        raise RunError(f"target names must differ: {', '.join(names)}")
    if parallel < 1:
        raise RunError(f"--parallel {parallel}: run at least one target at a time")
    reaches = {target.name: access(target) for target in targets}  # refuses bad ones first
    known = durations or {}
    start_order = sorted(targets, key=lambda t: -known.get(t.name, float("inf")))
    runs = _Runs(report_dir, suites, pytest_args, captured=parallel > 1)
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        ended = pool.map(lambda target: runs.one(target, reaches[target.name]), start_order)
        codes = dict(zip([target.name for target in start_order], ended, strict=True))
    matrices: list[tuple[str, Matrix]] = []
    for name in names:
        matrix_path = report_dir / name / JSON_FILE
        if matrix_path.exists():
            matrices.append((str(matrix_path), load(matrix_path)))
        else:
            print(f"cri-conformance run: {name} wrote no matrix (exit {codes[name]})")
            print(_last_lines(report_dir / name / LOG_FILE), end="")
    if matrices:
        merged = merge(matrices)
        written = write_reports(merged, report_dir)
        print(f"cri-conformance run: merged matrix of {len(matrices)} run(s): {written[0]}")
        for name in merged.runtime_names():
            print(f"cri-conformance run: {name}: " + " · ".join(merged.verdict(name).lines()))
    return max(codes.values())


def durations_of(matrix_path: Path) -> dict[str, float]:
    """How long each column of an earlier run's matrix took, in seconds."""
    return {run.name: run.duration_s for run in load(matrix_path).runtimes}


@dataclass
class _Runs:
    """Runs one target's pytest; a captured run's output goes to a log, printed whole at its end."""

    report_dir: Path
    suites: Sequence[str]
    pytest_args: Sequence[str]
    captured: bool
    printing: threading.Lock = field(default_factory=threading.Lock)

    def one(self, target: Target, reach: Access) -> int:
        target_dir = self.report_dir / target.name
        target_dir.mkdir(parents=True, exist_ok=True)
        (target_dir / JSON_FILE).unlink(missing_ok=True)  # never merge an earlier run's matrix
        command = pytest_command(target, reach, target_dir, self.suites, self.pytest_args)
        self._print(f"cri-conformance run: {target.name}: {' '.join(command)}")
        if not self.captured:
            return subprocess.run(command, env=child_environment(), check=False).returncode
        log = target_dir / LOG_FILE
        with log.open("w") as output:
            code = subprocess.run(
                command,
                env=child_environment(),
                stdout=output,
                stderr=subprocess.STDOUT,
                check=False,
            ).returncode
        self._print(
            f"cri-conformance run: {target.name} ended (exit {code}); its output "
            f"({log}):\n{log.read_text()}"
        )
        return code

    def _print(self, text: str) -> None:
        with self.printing:
            print(text, flush=True)
