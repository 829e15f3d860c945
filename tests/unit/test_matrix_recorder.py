"""The recorder in a child pytest: cells, pytest outcomes and exit codes agree.

The child tests raise what a runtime would make the client raise (CallFailed UNIMPLEMENTED, a
ProtocolUnsupported) without a runtime; tests/integration/test_matrix_on_containerd.py does
the same against containerd.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

OUTCOMES = """
import grpc
import pytest

from harness.client import CallFailed
from harness.expect import refused
from harness.streaming.errors import ProtocolUnsupported


@pytest.fixture
def needs_runtime_config():
    raise CallFailed("RuntimeConfig", grpc.StatusCode.UNIMPLEMENTED, "unknown method")


@pytest.fixture
def breaks_at_teardown():
    yield
    raise RuntimeError("cleanup failed")


@pytest.mark.feature("runtime.version")
def test_passes():
    pass


@pytest.mark.feature("runtime.status.ready")
def test_unimplemented():
    raise CallFailed("Status", grpc.StatusCode.UNIMPLEMENTED, "not here")


@pytest.mark.feature("runtime.status.network-ready")
def test_fails():
    raise AssertionError("network is not ready")  # what a failing check raises


@pytest.mark.feature("runtime.status.verbose")
def test_declared_and_fails():
    assert False, "no info"


@pytest.mark.feature("pod.lifecycle")
def test_declared_and_passes():
    pass


@pytest.mark.feature("pod.stop")
def test_skipped():
    pytest.skip("no AppArmor here")


@pytest.mark.feature("pod.remove")
def test_streaming_protocol_declined():
    raise ProtocolUnsupported("v5.channel.k8s.io", "upgrade refused with HTTP 403")


@pytest.mark.feature("pod.list.filter-id")
@pytest.mark.parametrize("case", ["plain", "needs-x"])
def test_two_cases(case):
    if case == "needs-x":
        pytest.skip("needs X")


@pytest.mark.feature("pod.status.not-found")
def test_unimplemented_inside_refused():
    with refused(grpc.StatusCode.NOT_FOUND):
        raise CallFailed("PodSandboxStatus", grpc.StatusCode.UNIMPLEMENTED, "no status")


@pytest.mark.feature("pod.status.network")
def test_unimplemented_at_setup(needs_runtime_config):
    pass


@pytest.mark.feature("pod.status.metadata")
def test_passes_but_teardown_breaks(breaks_at_teardown):
    pass


def test_without_feature():
    pass
"""

PROFILE = """
name: unit
description: declares two features for the recorder's tests
unsupported:
  runtime.status.verbose: verbose status is not offered
  pod.lifecycle: pods are not offered
"""

EXPECTED = {
    "runtime.version": ("pass", "", 1),
    "runtime.status.ready": ("unsupported", "Status answered UNIMPLEMENTED: not here", 1),
    "runtime.status.network-ready": ("fail", "AssertionError: network is not ready", 1),
    "runtime.status.verbose": (
        "unsupported",
        "declared unsupported by profile unit: verbose status is not offered",
        1,
    ),
    "pod.lifecycle": ("xpass", "declared unsupported by profile unit: pods are not offered", 1),
    "pod.stop": ("skip", "no AppArmor here", 1),
    "pod.remove": (
        "unsupported",
        "the runtime does not offer v5.channel.k8s.io: upgrade refused with HTTP 403",
        1,
    ),
    "pod.list.filter-id": ("skip", "test_two_cases[needs-x]: needs X", 2),
    "pod.status.not-found": (
        "unsupported",
        "PodSandboxStatus answered UNIMPLEMENTED: no status",
        1,
    ),
    "pod.status.network": (
        "unsupported",
        "at setup: RuntimeConfig answered UNIMPLEMENTED: unknown method",
        1,
    ),
    "pod.status.metadata": ("fail", "at teardown: RuntimeError: cleanup failed", 1),
}


@pytest.fixture
def child(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_outcomes=OUTCOMES)
    pytester.makefile(".yaml", unit=PROFILE)
    return pytester


def cells(pytester: pytest.Pytester, runtime: str = "unit") -> dict[str, tuple[str, str, int]]:
    matrix = json.loads((pytester.path / "reports" / "matrix.json").read_text())
    assert [run["name"] for run in matrix["runtimes"]] == [runtime]
    return {
        row["id"]: (
            row["cells"][runtime]["state"],
            row["cells"][runtime]["reason"],
            row["cells"][runtime]["tests"],
        )
        for row in matrix["features"]
    }


def run(pytester: pytest.Pytester, *args: str, subprocess: bool = False) -> Any:
    options = ["--runtime-profile", "unit.yaml", "--runtime-name", "unit", "-ra", *args]
    runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    return runner("-p", "no:cacheprovider", *options)


def test_each_feature_gets_the_cell_of_its_worst_test(child: pytest.Pytester) -> None:
    run(child)
    assert cells(child) == EXPECTED


def test_only_undeclared_failures_fail_the_run(child: pytest.Pytester) -> None:
    result = run(child)
    result.assert_outcomes(passed=4, failed=1, skipped=2, xfailed=5, xpassed=1, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert (
        "UNSUPPORTED test_outcomes.py::test_unimplemented - unsupported: "
        "Status answered UNIMPLEMENTED: not here" in output
    )
    assert (
        "UNSUPPORTED test_outcomes.py::test_declared_and_fails - unsupported: declared "
        "unsupported by profile unit: verbose status is not offered (AssertionError: no info"
    ) in output
    assert "XPASS test_outcomes.py::test_declared_and_passes - declared unsupported" in output
    assert "cri-conformance matrix (unit): 1 pass, 1 xpass, 2 skip, 5 unsupported, 2 fail" in output

    clean = run(child, "-k", "not test_fails and not teardown_breaks")
    assert clean.ret == pytest.ExitCode.OK


def test_strict_profile_fails_the_run_on_an_xpass(child: pytest.Pytester) -> None:
    result = run(child, "--strict-profile", "-k", "declared")
    result.assert_outcomes(failed=1, xfailed=1)
    assert "[XPASS(strict-profile)] declared unsupported by profile unit" in result.stdout.str()
    assert cells(child)["pod.lifecycle"][0] == "xpass"


def test_under_xdist_the_controller_records_the_same_cells(child: pytest.Pytester) -> None:
    result = run(child, "-n", "2", subprocess=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert cells(child) == EXPECTED


def test_a_plain_run_writes_no_junit_or_allure_and_a_suite_run_does(
    child: pytest.Pytester,
) -> None:
    run(child)
    reports = child.path / "reports"
    assert not (reports / "junit.xml").exists()
    assert not (reports / "allure-results").exists()

    child.makeconftest("CRI_CONFORMANCE_SUITE = True\n")
    run(child)
    junit = (reports / "junit.xml").read_text()
    assert '<property name="cri-conformance.cell" value="unsupported" />' in junit
    assert 'type="pytest.xfail" message="unsupported: Status answered UNIMPLEMENTED' in junit
    results = [
        json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")
    ]
    unimplemented = next(r for r in results if r["name"] == "test_unimplemented")
    labels = {(label["name"], label["value"]) for label in unimplemented["labels"]}
    assert {("feature", "runtime"), ("story", "runtime.status.ready"), ("tag", "single")} <= labels
    assert unimplemented["status"] == "skipped"


def test_given_junit_and_allure_paths_are_kept(child: pytest.Pytester, tmp_path: Path) -> None:
    child.makeconftest("CRI_CONFORMANCE_SUITE = True\n")
    run(child, "--junitxml", str(tmp_path / "mine.xml"), "--alluredir", str(tmp_path / "al"))
    assert (tmp_path / "mine.xml").exists()
    assert list((tmp_path / "al").glob("*-result.json"))
    assert not (child.path / "reports" / "junit.xml").exists()


def test_a_run_without_feature_tests_writes_no_matrix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()


def test_a_bad_profile_stops_the_run_naming_the_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    pytester.makefile(".yaml", bad="name: bad\ndescription: d\nunsupported:\n  pod.nope: r\n")
    result = pytester.runpytest_subprocess("--runtime-profile", "bad.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "bad.yaml:4: unknown feature 'pod.nope'" in result.stderr.str()
