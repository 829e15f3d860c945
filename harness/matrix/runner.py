"""``cri-conformance run``: the suite once per target, each in its own pytest process, then
one merged matrix.

Each target writes its reports into ``REPORT_DIR/<name>/``; the merged ``matrix.{json,md,html}``
lands in ``REPORT_DIR``. Runs go one after another (they share the test-image registry on
loopback). Endpoints reach a run only through its command line, never the environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.embedded import STRATEGIES, EmbeddedShim
from harness.endpoints import IMAGE_ENV, RUNTIME_ENV, crictl_config_file, normalize, resolve
from harness.matrix.document import Matrix, load, merge
from harness.matrix.outputs import JSON_FILE, write_reports
from harness.package_data import SUITES_PACKAGE

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
    return [*command, *pytest_args]


def run_targets(
    targets: Sequence[Target],
    report_dir: Path,
    suites: Sequence[str] = INSTALLED_SUITES,
    pytest_args: Sequence[str] = (),
) -> int:
    """Run every target, merge what they wrote; the worst pytest exit code, 0 when all passed."""
    if not targets:
        raise RunError("give at least one --target NAME=ENDPOINT")
    names = [target.name for target in targets]
    if len(set(names)) != len(names):
        raise RunError(f"target names must differ: {', '.join(names)}")
    reaches = [access(target) for target in targets]  # refuses a bad target before any run
    codes: list[int] = []
    matrices: list[tuple[str, Matrix]] = []
    for target, reach in zip(targets, reaches, strict=True):
        target_dir = report_dir / target.name
        (target_dir / JSON_FILE).unlink(missing_ok=True)  # never merge an earlier run's matrix
        command = pytest_command(target, reach, target_dir, suites, pytest_args)
        print(f"cri-conformance run: {target.name}: {' '.join(command)}", flush=True)
        codes.append(subprocess.run(command, env=child_environment(), check=False).returncode)
        matrix_path = target_dir / JSON_FILE
        if matrix_path.exists():
            matrices.append((str(matrix_path), load(matrix_path)))
        else:
            print(f"cri-conformance run: {target.name} wrote no matrix (exit {codes[-1]})")
    if matrices:
        merged = merge(matrices)
        written = write_reports(merged, report_dir)
        print(f"cri-conformance run: merged matrix of {len(matrices)} run(s): {written[0]}")
        for name in merged.runtime_names():
            print(f"cri-conformance run: {name}: " + " · ".join(merged.verdict(name).lines()))
    return max(codes)
