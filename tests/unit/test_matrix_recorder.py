"""The recorder in a child pytest: cells, pytest outcomes and exit codes agree.

The child tests raise what a runtime would make the client raise (CallFailed UNIMPLEMENTED, a
ProtocolUnsupported, a broken handshake) without a runtime, for required, optional and
alternative features, declared or not, so every state and every excuse is pinned here;
tests/integration/test_matrix_on_containerd.py does the same against containerd.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.advertised import PREDATING

OUTCOMES = """
import grpc
import pytest

from harness.advertised import Flag, Predates, Unadvertised
from harness.client import CallFailed
from harness.expect import refused
from kube_streaming.errors import ProtocolUnsupported, StreamingError


def unadvertised(rpc):
    refusal = CallFailed(rpc, grpc.StatusCode.INVALID_ARGUMENT, "no such mount")
    return Unadvertised("Status does not advertise it", refusal)


@pytest.fixture
def pod_refused():
    raise CallFailed("RunPodSandbox", grpc.StatusCode.UNIMPLEMENTED, "no pods")


@pytest.fixture
def breaks_at_teardown():
    yield
    raise RuntimeError("cleanup failed")


@pytest.mark.feature("runtime.version")
def test_required_passes():
    pass


@pytest.mark.feature("runtime.status.ready")
def test_required_unimplemented():
    raise CallFailed("Status", grpc.StatusCode.UNIMPLEMENTED, "not here")


@pytest.mark.feature("pod.metrics.cpu")
def test_optional_unimplemented_by_its_own_call():
    raise CallFailed("ListPodSandboxMetrics", grpc.StatusCode.UNIMPLEMENTED, "no metrics")


@pytest.mark.feature("pod.metrics.memory")
def test_optional_unimplemented_at_setup(pod_refused):
    pass


@pytest.mark.feature("runtime.status.network-ready")
def test_required_fails():
    raise AssertionError("network is not ready")  # what a failing check raises


@pytest.mark.feature("runtime.status.verbose")
def test_declared_optional_fails_as_expected():
    assert False, "no info"


@pytest.mark.feature("runtime.status.verbose-json")
def test_declared_optional_fails_otherwise():
    assert False, "the runtime crashed"


@pytest.mark.feature("runtime.version.semver")
def test_declared_required_fails_as_expected():
    assert False, "1.6.20~ds1 is not semver"


@pytest.mark.feature("pod.lifecycle")
def test_declared_and_passes():
    pass


@pytest.mark.feature("container.exit-code.oom-at-start")
def test_declared_intermittent_and_passes():
    pass


@pytest.mark.feature("pod.stop")
def test_skipped():
    pytest.skip("no AppArmor here")


@pytest.mark.feature("streaming.exec.websocket")
def test_alternative_declined_by_negotiation():
    raise ProtocolUnsupported("WebSocket v4.channel.k8s.io", "upgrade refused with HTTP 403")


@pytest.mark.feature("streaming.exec.spdy")
def test_alternative_passes():
    pass


@pytest.mark.feature("streaming.exec-tty.websocket")
def test_alternative_with_a_broken_handshake():
    raise StreamingError("ws://x: the server chose 'v9', never offered")


@pytest.mark.feature("pod.list.filter-id")
@pytest.mark.parametrize("case", ["plain", "needs-x"])
def test_two_cases(case):
    if case == "needs-x":
        pytest.skip("needs X")


@pytest.mark.feature("pod.status.not-found")
def test_required_unimplemented_inside_refused():
    with refused(grpc.StatusCode.NOT_FOUND):
        raise CallFailed("PodSandboxStatus", grpc.StatusCode.UNIMPLEMENTED, "no status")


@pytest.mark.feature("pod.status.metadata")
def test_passes_but_teardown_breaks(breaks_at_teardown):
    pass


@pytest.mark.feature("runtime.config.cgroup-driver")
@pytest.mark.xfail(reason="not today")
def test_an_xfail_marker():
    assert False


@pytest.mark.feature("container.mount.recursive-read-only")
def test_unadvertised_and_refused_by_its_own_call():
    raise unadvertised("CreateContainer")


@pytest.mark.feature("security.user-namespace.pod")
def test_a_flag_the_runtime_predates():
    raise Predates(Flag.USER_NAMESPACES)


@pytest.mark.feature("image.fs-info.container-filesystems")
def test_unadvertised_and_refused_by_a_set_up_call():
    raise unadvertised("CreateContainer")


def test_without_feature():
    pass
"""

PROFILE = """
name: unit
description: declares features for the recorder's tests
unsupported:
  runtime.status.verbose:
    reason: verbose status is not offered
    expect: no info
  runtime.status.verbose-json:
    reason: values are plain text
    expect: not JSON
deviations:
  pod.lifecycle:
    reason: pods are not offered
    expect: RunPodSandbox
  runtime.version.semver:
    reason: Debian's version suffix
    expect: "~ds1"
  container.exit-code.oom-at-start:
    reason: a race in the runtime
    expect: Error
    intermittent: true
"""

REQUIRED = (
    "is required (what the kubelet needs from every CRI v1 runtime), so a refusal is a failure"
)
EXPECTED = {
    "runtime.version": ("pass", "", 1),
    "runtime.status.ready": (
        "fail",
        f"Status answered UNIMPLEMENTED: not here, but runtime.status.ready {REQUIRED}",
        1,
    ),
    "pod.metrics.cpu": (
        "unsupported",
        "ListPodSandboxMetrics answered UNIMPLEMENTED: no metrics",
        1,
    ),
    "pod.metrics.memory": (
        "fail",
        "at setup: RunPodSandbox answered UNIMPLEMENTED: no pods, but RunPodSandbox is not a call "
        "of pod.metrics.memory (ListPodSandboxMetrics, ContainerStats): a refused set-up call is "
        "a failure",
        1,
    ),
    "runtime.status.network-ready": ("fail", "AssertionError: network is not ready", 1),
    "runtime.status.verbose": (
        "unsupported",
        "declared unsupported by profile unit: verbose status is not offered",
        1,
    ),
    "runtime.status.verbose-json": (
        "fail",
        "AssertionError: the runtime crashed (the profile declares it, expecting /not JSON/: "
        "declared unsupported by profile unit: values are plain text)",
        1,
    ),
    "runtime.version.semver": (
        "deviation",
        "declared a deviation by profile unit: Debian's version suffix",
        1,
    ),
    "pod.lifecycle": ("xpass", "declared a deviation by profile unit: pods are not offered", 1),
    "container.exit-code.oom-at-start": (
        "pass",
        "declared an intermittent deviation by profile unit: a race in the runtime; it passed "
        "this time",
        1,
    ),
    "pod.stop": ("skip", "no AppArmor here", 1),
    "streaming.exec.websocket": (
        "unsupported",
        "the runtime does not offer WebSocket v4.channel.k8s.io: upgrade refused with HTTP 403",
        1,
    ),
    "streaming.exec.spdy": ("pass", "", 1),
    "streaming.exec-tty.websocket": (
        "fail",
        "kube_streaming.errors.StreamingError: ws://x: the server chose 'v9', never offered",
        1,
    ),
    "pod.list.filter-id": ("skip", "test_two_cases[needs-x]: needs X", 2),
    "pod.status.not-found": (
        "fail",
        f"PodSandboxStatus answered UNIMPLEMENTED: no status, but pod.status.not-found {REQUIRED}",
        1,
    ),
    "pod.status.metadata": ("fail", "at teardown: RuntimeError: cleanup failed", 1),
    "runtime.config.cgroup-driver": ("fail", "xfail marker: not today", 1),
    "container.mount.recursive-read-only": (
        "unsupported",
        "Status does not advertise it, and CreateContainer refused it with INVALID_ARGUMENT: "
        "no such mount",
        1,
    ),
    "security.user-namespace.pod": (
        "unsupported",
        f"{PREDATING}; the kubelet asks for user_namespaces only where it is advertised, so the "
        "test does not ask",
        1,
    ),
    "image.fs-info.container-filesystems": (
        "fail",
        "Status does not advertise it, and CreateContainer refused it with INVALID_ARGUMENT: no "
        "such mount, but CreateContainer is not a call of image.fs-info.container-filesystems "
        "(ImageFsInfo): a refused set-up call is a failure",
        1,
    ),
}


@pytest.fixture
def child(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_outcomes=OUTCOMES)
    pytester.makefile(".yaml", unit=PROFILE)
    return pytester


def cells(pytester: pytest.Pytester, runtime: str = "unit") -> dict[str, tuple[str, str, int]]:
    matrix = json.loads((pytester.path / "reports" / "matrix.json").read_text())
    assert [run["name"] for run in matrix["runtimes"]] == [runtime]
    for row in matrix["features"]:
        if (
            row["cells"][runtime]["state"] in ("unsupported", "deviation")
            and "declared" in (row["cells"][runtime]["reason"])
        ):
            assert row["cells"][runtime]["failure"], (
                f"{row['id']}: a declared cell keeps its failure"
            )
    return {
        row["id"]: (
            row["cells"][runtime]["state"],
            row["cells"][runtime]["reason"],
            row["cells"][runtime]["tests"],
        )
        for row in matrix["features"]
    }


def run(pytester: pytest.Pytester, *args: str, subprocess: bool = False) -> Any:
    options = ["--cri-runtime-profile", "unit.yaml", "--cri-runtime-name", "unit", "-ra", *args]
    runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    return runner("-p", "no:cacheprovider", *options)


def test_each_feature_gets_the_cell_of_its_worst_test(child: pytest.Pytester) -> None:
    run(child)
    assert cells(child) == EXPECTED


def test_only_undeclared_failures_fail_the_run(child: pytest.Pytester) -> None:
    result = run(child)
    result.assert_outcomes(passed=6, failed=7, skipped=2, xfailed=6, xpassed=1, errors=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert (
        "UNSUPPORTED test_outcomes.py::test_optional_unimplemented_by_its_own_call - unsupported: "
        "ListPodSandboxMetrics answered UNIMPLEMENTED: no metrics" in output
    )
    assert (
        "UNSUPPORTED test_outcomes.py::test_declared_optional_fails_as_expected - unsupported: "
        "declared unsupported by profile unit: verbose status is not offered (AssertionError: "
        "no info"
    ) in output
    assert (
        "DEVIATION test_outcomes.py::test_declared_required_fails_as_expected - deviation: "
        "declared a deviation by profile unit: Debian's version suffix (AssertionError: 1.6.20~ds1"
    ) in output
    assert "XPASS test_outcomes.py::test_declared_and_passes - declared a deviation" in output
    assert (
        "cri-conformance matrix (unit): 3 pass, 1 xpass, 2 skip, 5 unsupported, 1 deviation, "
        "9 fail" in output
    )

    excused = (
        "not fails_otherwise and not teardown and not required_ and not setup and not broken "
        "and not set_up_call"
    )
    clean = run(child, "-k", f"{excused} and not xfail_marker")
    assert clean.ret == pytest.ExitCode.OK


def test_every_report_opens_with_the_verdict(child: pytest.Pytester) -> None:
    output = run(child).stdout.str()
    # required: runtime.version, the streaming.exec group (spdy passes), pod.lifecycle (xpass),
    # container.exit-code.oom-at-start (an intermittent declaration that passed)
    # pass; runtime.version.semver is a deviation; pod.stop and pod.list.filter-id skipped; the
    # registry's other requirements were not run.
    assert re.search(
        r"cri-conformance verdict \(unit\): CRI v1 required: 4/\d+ pass, 1 deviations, 5 fail, "
        r"2 skip, \d+ not run",
        output,
    )
    assert re.search(
        r"cri-conformance verdict \(unit\): optional: 0/\d+ pass, 4 unsupported, 4 fail, "
        r"\d+ not run\n",
        output,
    )
    assert "cri-conformance verdict (unit): conformant to the required set: no" in output
    markdown = (child.path / "reports" / "matrix.md").read_text()
    assert "- **unit**: CRI v1 required: 4/" in markdown.split("|", 1)[0]


def test_require_conformant_fails_a_run_that_passes_but_is_not_conformant(
    child: pytest.Pytester,
) -> None:
    passing = run(child, "-k", "required_passes or alternative_passes")
    assert passing.ret == pytest.ExitCode.OK, "every test it ran passed"
    strict = run(child, "-k", "required_passes or alternative_passes", "--cri-require-conformant")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED, "most requirements did not run"
    assert "--cri-require-conformant: the runtime is not conformant" in strict.stdout.str()


def test_strict_profile_fails_the_run_on_an_xpass(child: pytest.Pytester) -> None:
    result = run(child, "--cri-strict-profile", "-k", "declared and not otherwise")
    result.assert_outcomes(passed=1, failed=1, xfailed=2)  # an intermittent pass is no xpass
    assert "[XPASS(strict-profile)] declared a deviation by profile unit" in result.stdout.str()
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
    assert '<property name="cri-conformance.cell" value="deviation" />' in junit
    assert (
        'type="pytest.xfail" message="unsupported: ListPodSandboxMetrics answered UNIMPLEMENTED'
        in junit
    )
    results = [
        json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")
    ]
    unimplemented = next(
        r for r in results if r["name"] == "test_optional_unimplemented_by_its_own_call"
    )
    labels = {(label["name"], label["value"]) for label in unimplemented["labels"]}
    assert {("feature", "pod"), ("story", "pod.metrics.cpu"), ("tag", "single")} <= labels
    assert unimplemented["status"] == "skipped"


def test_a_suite_run_replaces_the_allure_results_of_the_last_one(
    child: pytest.Pytester,
) -> None:
    """The old results are deleted aside while the run goes on, with those a killed run
    left aside, and are all gone when it ends."""
    child.makeconftest("CRI_CONFORMANCE_SUITE = True\n")
    reports = child.path / "reports"
    old = reports / "allure-results" / "old-result.json"
    old.parent.mkdir(parents=True)
    old.write_text("{}")
    killed = reports / ".allure-results.deleting-1"
    killed.mkdir()
    (killed / "older-result.json").write_text("{}")
    run(child)
    assert not old.exists()
    assert list((reports / "allure-results").glob("*-result.json"))
    assert not list(reports.glob(".allure-results.deleting-*"))


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
    pytester.makefile(
        ".yaml", bad="name: bad\ndescription: d\nunsupported:\n  pod.nope: {reason: r, expect: e}\n"
    )
    result = pytester.runpytest_subprocess("--cri-runtime-profile", "bad.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "bad.yaml:4: unknown feature 'pod.nope'" in result.stderr.str()
