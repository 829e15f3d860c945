"""A suite run against containerd writes the matrix, JUnit and Allure with the right cells.

containerd 1.6 answers RuntimeConfig with UNIMPLEMENTED: the real example of an unsupported
cell. Runs go through a child pytest (subprocess), serial and under pytest-xdist.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.matrix.document import load

REPO = Path(__file__).resolve().parents[2]
RUNTIME_SUITE = REPO / "suites" / "test_runtime_info.py"
# Tests whose outcome on containerd 1.6 is known: two pass, RuntimeConfig is UNIMPLEMENTED.
CHOSEN = "names_the_runtime_and_the_v1_api or reports_runtime_ready or runtime_config_reports"

DECLARED = """
import pytest


@pytest.mark.feature("runtime.version")
def test_containerd_is_not_cri_o(cri):
    assert cri.version().runtime_name == "cri-o", "this runtime is not CRI-O"


@pytest.mark.feature("runtime.status.ready")
def test_runtime_is_ready(cri):
    assert any(c.type == "RuntimeReady" and c.status for c in cri.status().status.conditions)
"""

PROFILE = """
name: wishful
description: declares a failing and a passing feature of containerd
runtime_name: containerd
deviations:
  runtime.version:
    reason: this runtime is not CRI-O
    expect: this runtime is not CRI-O
  runtime.status.ready:
    reason: readiness is not reported
    expect: RuntimeReady
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_suite_run_writes_every_output_with_real_cells(
    pytester: pytest.Pytester, containerd_endpoint: str, workers: list[str]
) -> None:
    reports = pytester.path / "out"
    result = pytester.runpytest_subprocess(
        str(RUNTIME_SUITE),
        "--cri-endpoint", containerd_endpoint,
        "--cri-runtime-profile", "containerd-1.6",
        "--cri-report-dir", str(reports),
        "-k", CHOSEN,
        "-p", "no:cacheprovider",
        *workers,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=2, xfailed=1)
    assert "UNSUPPORTED" in result.stdout.str()

    matrix = load(reports / "matrix.json")
    (run,) = matrix.runtimes
    assert run.name == "containerd"
    assert (run.runtime_name, run.api_version, run.profile) == (
        "containerd",
        "v1",
        "containerd-1.6",
    )
    assert run.runtime_version
    assert run.runtime_version.startswith("1.6")
    assert run.endpoint == containerd_endpoint
    assert run.duration_s > 0
    cells = {row.id: row.cells["containerd"] for row in matrix.features}
    assert cells["runtime.config.cgroup-driver"].state == "unsupported"
    assert "RuntimeConfig answered UNIMPLEMENTED" in cells["runtime.config.cgroup-driver"].reason
    assert {feature: cell.state.value for feature, cell in cells.items()} == {
        "runtime.version": "pass",
        "runtime.status.ready": "pass",
        "runtime.config.cgroup-driver": "unsupported",
    }
    assert "🚫 unsupported" in (reports / "matrix.md").read_text()
    assert 'class="cell unsupported"' in (reports / "matrix.html").read_text()
    junit = (reports / "junit.xml").read_text()
    assert 'type="pytest.xfail" message="unsupported: RuntimeConfig answered UNIMPLEMENTED' in junit
    allure = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    assert len(allure) == 3
    stories = {label["value"] for r in allure for label in r["labels"] if label["name"] == "story"}
    assert "runtime.config.cgroup-driver" in stories


def test_declared_features_on_containerd_are_deviations_or_xpass(
    pytester: pytest.Pytester, containerd_endpoint: str
) -> None:
    pytester.makepyfile(test_declared=DECLARED)
    pytester.makefile(".yaml", wishful=PROFILE)
    args = ["--cri-endpoint", containerd_endpoint, "--cri-runtime-profile", "wishful.yaml", "-ra"]
    result = pytester.runpytest_subprocess(*args, "--cri-runtime-name", "cd")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(xfailed=1, xpassed=1)
    cells = {
        row.id: row.cells["cd"] for row in load(pytester.path / "reports/matrix.json").features
    }
    assert cells["runtime.version"].state == "deviation"
    assert cells["runtime.version"].reason == (
        "declared a deviation by profile wishful: this runtime is not CRI-O"
    )
    assert "AssertionError: this runtime is not CRI-O" in cells["runtime.version"].failure
    assert cells["runtime.status.ready"].state == "xpass"

    strict = pytester.runpytest_subprocess(*args, "--cri-strict-profile")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    assert "[XPASS(strict-profile)]" in strict.stdout.str()


def test_a_profile_for_another_runtime_stops_the_run(
    pytester: pytest.Pytester, containerd_endpoint: str
) -> None:
    pytester.makepyfile(test_declared=DECLARED)
    pytester.makefile(
        ".yaml", crio=PROFILE.replace("runtime_name: containerd", "runtime_name: cri-o")
    )
    result = pytester.runpytest_subprocess(
        "--cri-endpoint", containerd_endpoint, "--cri-runtime-profile", "crio.yaml"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "runtime profile wishful is for cri-o, but" in result.stdout.str()
