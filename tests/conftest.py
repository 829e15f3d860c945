"""The project's own tests: unit tests need nothing; integration tests use the real services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import settings

from harness.features import Level
from harness.matrix.cells import Cell, State
from harness.matrix.document import FeatureRow, Matrix, RuntimeRun, ordered
from harness.properties import hypothesis_profiles

pytest_plugins = ["pytester"]

# The project's own hypothesis tests run under the harness's small profile; the plugin sets
# none for a session that is not a conformance run. --hypothesis-profile overrides it.
settings.load_profile(hypothesis_profiles.CI)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("robustness", "the reference shim's crash-recovery test")
    group.addoption(
        "--crash-kills",
        type=int,
        default=3,
        help="how many points to SIGKILL the shim at, each in a burst of its own (default 3, one "
        "per strategy; the thorough run is 20)",
    )
    group.addoption(
        "--crash-seed",
        type=int,
        default=12,
        help="the seed of kill point 0; point N uses seed + N (default 12)",
    )


def run_record(name: str, **fields: Any) -> RuntimeRun:
    """A column as a run against containerd would record it; ``fields`` are RuntimeRun's, which
    ``replace`` checks (a name it lacks is a TypeError), so they are not listed again here."""
    plausible = RuntimeRun(
        name=name,
        endpoint="unix:///run/containerd/containerd.sock",
        runtime_name="containerd",
        runtime_version="1.6.20",
        api_version="v1",
        profile=None,
        started="2026-01-02T03:04:05+00:00",
        duration_s=12.5,
    )
    return replace(plausible, **fields)


@pytest.fixture
def make_run() -> Callable[..., RuntimeRun]:
    """``make_run("name", profile="p")``: a matrix column with plausible run details."""
    return run_record


@pytest.fixture
def two_runtime_matrix() -> Matrix:
    """Most states, both levels and shapes, a cell not run, reasons that need escaping."""
    rows = [
        FeatureRow(
            "pod.lifecycle",
            "pod",
            "single",
            "A new pod is ready",
            Level.REQUIRED,
            None,
            {
                "containerd": Cell(State.PASS, "", 1),
                "shim": Cell(State.PASS, "", 1),
            },
        ),
        FeatureRow(
            "pod.dns",
            "pod",
            "single",
            "DNS config | resolv.conf",
            Level.REQUIRED,
            None,
            {
                "containerd": Cell(State.PASS, "", 2),
                "shim": Cell(State.FAIL, "test_dns: nameserver 10.0.0.1 missing <resolv.conf>", 2),
            },
        ),
        FeatureRow(
            "pod.localhost",
            "pod",
            "multi",
            "Containers of a pod share localhost",
            Level.REQUIRED,
            None,
            {
                "containerd": Cell(State.PASS, "", 1),
                "shim": Cell(
                    State.DEVIATION,
                    "declared a deviation by profile shim: one container per pod",
                    1,
                    "CreateContainer failed with UNIMPLEMENTED: one per pod",
                ),
            },
        ),
        FeatureRow(
            "pod.ipc",
            "pod",
            "multi",
            "Containers of a pod share IPC",
            Level.OPTIONAL,
            None,
            {
                "containerd": Cell(State.SKIP, "no ipcs in the image", 1),
                "shim": Cell(State.XPASS, "declared unsupported by profile shim: no IPC", 1),
            },
        ),
        FeatureRow(
            "pod.metrics",
            "pod",
            "single",
            "Pod metrics are listed",
            Level.OPTIONAL,
            None,
            {
                "containerd": Cell(
                    State.UNSUPPORTED, "ListPodSandboxMetrics answered UNIMPLEMENTED: unknown", 1
                ),
                "shim": Cell(State.PASS, "", 1),
            },
        ),
        FeatureRow(
            "runtime.version",
            "runtime",
            "single",
            "Version names the runtime",
            Level.REQUIRED,
            None,
            {
                "containerd": Cell(State.PASS, "", 1),
            },
        ),
    ]
    return Matrix(
        [run_record("containerd"), run_record("shim", runtime_name="shim")], ordered(rows)
    )
