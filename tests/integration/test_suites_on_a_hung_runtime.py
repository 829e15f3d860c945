"""The suites against a runtime that hangs, hangs up or answers garbage end in bounded time.

containerd sits behind ``BrokenRuntime``, which breaks chosen calls and passes the rest on. A
child pytest runs a selection of the suites through it with ``--cri-timeout 2``, serially and
with two xdist workers. Each run must end well within a time the deadlines account for (a
liveness check with a generous margin, not a speed target), every test a fault reaches must
fail naming the call and what went wrong, the others must pass, and the end-of-run sweep must
still run: removing what lost answers left behind, or saying what it could not remove or list.
"""

from __future__ import annotations

import contextlib
import json
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from broken_runtime import (
    GARBAGE,
    HANG,
    HANG_UP,
    SILENT_STREAM,
    WRONG_TYPES,
    BrokenRuntime,
    Fault,
    Kind,
)
from cri_proxy import left_on

from harness.client import CallFailed, CriClient

StartBroken = Callable[[dict[str, Fault]], BrokenRuntime]
REPO = Path(__file__).resolve().parents[2]
CRI_TIMEOUT = 2
# A run may take twice what its deadlines add up to, plus a minute for starting pytest and for
# containerd's own work on a busy machine: far below what the fixed 30 s extras of teardown
# calls and the 30 s streaming handshakes this check was written against took.
OVERHEAD_S = 60
# Where the child pytest is stopped if the harness hangs after all: the test then fails.
STUCK_S = 300

RUNTIME_INFO = [
    "test_runtime_info.py::test_version_names_the_runtime_and_the_v1_api",
    "test_runtime_info.py::test_status_reports_runtime_ready",
]
IMAGE_PULL = ["test_image.py::test_an_image_pulled_by_tag_is_present_under_that_tag"]
POD_LIFECYCLE = [
    "test_pod_sandbox.py::test_a_new_pod_is_ready",
    "test_pod_sandbox.py::test_a_stopped_pod_is_not_ready",
]
CONTAINERS = [
    "test_container_lifecycle.py::test_a_started_container_is_running_its_command",
    "test_container_lifecycle.py::test_creating_a_container_in_an_unknown_pod_is_refused",
]
EXEC_SYNC = ["test_container_exec.py::test_exec_sync_returns_stdout_exactly"]
STREAMING = [
    "test_streaming.py::test_exec_returns_stdout_stderr_and_the_exit_code[spdy]",
    "test_streaming.py::test_exec_returns_stdout_stderr_and_the_exit_code[websocket]",
    "test_streaming.py::test_exec_returns_stdout_stderr_and_the_exit_code[websocket-v5]",
    "test_streaming.py::test_a_streaming_url_works_once",
]
MAKE_PODS = POD_LIFECYCLE + CONTAINERS + EXEC_SYNC + STREAMING
SELECTION = RUNTIME_INFO + IMAGE_PULL + MAKE_PODS


@dataclass(frozen=True)
class Run:
    """What a child run printed and recorded, and how long it took."""

    output: str
    exit_code: int
    seconds: float
    outcomes: dict[str, str]  # test (file::name[param]) -> "passed" or its failure message
    leaks: dict[str, Any]

    def failure(self, test: str) -> str:
        outcome = self.outcomes[test]
        assert outcome != "passed", f"{test} passed against the broken runtime"
        return outcome

    def assert_bounded(self, deadlines_s: float) -> None:
        """Liveness, not speed: the run ended within a bound its deadlines account for."""
        bound = 2 * deadlines_s + OVERHEAD_S
        print(f"the run took {self.seconds:.1f} s; deadlines {deadlines_s:g} s, bound {bound:g} s")
        assert self.seconds < bound, f"the run took {self.seconds:.0f} s\n{self.output}"


def junit_outcomes(path: Path) -> dict[str, str]:
    outcomes = {}
    for case in ElementTree.parse(path).iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        failed = case.find("failure")
        if failed is None:
            failed = case.find("error")
        outcome = "passed" if failed is None else failed.get("message", "")
        outcomes[f"{module}.py::{case.get('name')}"] = outcome
    return outcomes


def run_suites(
    pytester: pytest.Pytester, runtime: BrokenRuntime, tests: list[str], *options: str
) -> Run:
    report = pytester.path / "report"
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        *(str(REPO / "suites" / test) for test in tests),
        "--cri-endpoint",
        runtime.endpoint,
        "--cri-timeout",
        str(CRI_TIMEOUT),
        "--cri-runtime-profile",
        "containerd-1.6",
        "--cri-report-dir",
        str(report),
        "-p",
        "no:cacheprovider",
        *options,
        timeout=STUCK_S,
    )
    seconds = time.monotonic() - started
    junit = report / "junit.xml"
    leaks = report / "leaks.json"
    return Run(
        output=result.stdout.str() + result.stderr.str(),
        exit_code=result.ret,
        seconds=seconds,
        outcomes=junit_outcomes(junit) if junit.exists() else {},
        leaks=json.loads(leaks.read_text()) if leaks.exists() else {},
    )


def failed_run(
    pytester: pytest.Pytester, runtime: BrokenRuntime, tests: list[str], *options: str
) -> Run:
    """A run that the faults made fail (rather than stop at set-up)."""
    run = run_suites(pytester, runtime, tests, *options)
    assert run.exit_code == pytest.ExitCode.TESTS_FAILED, run.output
    return run


@pytest.fixture
def broken_containerd(
    tmp_path: Path, containerd_endpoint: str, containerd: CriClient
) -> Iterator[StartBroken]:
    """``broken_containerd(faults)``: containerd behind a BrokenRuntime with those faults.

    The pods the runs made through it and could not remove are removed on containerd directly
    at the end (with their containers).
    """
    started: list[BrokenRuntime] = []

    def start(faults: dict[str, Fault]) -> BrokenRuntime:
        runtime = BrokenRuntime(faults, tmp_path / "broken.sock", containerd_endpoint)
        started.append(runtime.__enter__())
        return runtime

    yield start
    for runtime in started:
        runtime.__exit__(None, None, None)
        for pod_id in runtime.created["pods"]:
            with contextlib.suppress(CallFailed):
                containerd.stop_pod(pod_id)
                containerd.remove_pod(pod_id)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "two-workers"])
def test_a_version_that_never_answers_stops_the_run_at_once(
    pytester: pytest.Pytester, broken_containerd: StartBroken, workers: list[str]
) -> None:
    runtime = broken_containerd({"Version": Fault(HANG)})
    run = run_suites(pytester, runtime, SELECTION, *workers)
    assert run.exit_code == pytest.ExitCode.USAGE_ERROR, run.output
    assert f"Version did not answer within {CRI_TIMEOUT} s" in run.output
    assert "no tests ran" in run.output
    run.assert_bounded(deadlines_s=2 * CRI_TIMEOUT)  # one Version per process that connects


@pytest.mark.parametrize(
    ("fault", "workers", "said"),
    [
        (HANG, ["-n", "2"], f"RunPodSandbox did not answer within {CRI_TIMEOUT} s"),
        (WRONG_TYPES, [], "RunPodSandbox answered OK without a pod_sandbox_id"),
    ],
    ids=["hang-two-workers", "wrong-types"],
)
def test_lost_pod_answers_fail_their_tests_and_the_sweep_removes_the_pods(
    pytester: pytest.Pytester,
    broken_containerd: StartBroken,
    containerd: CriClient,
    fault: Kind,
    workers: list[str],
    said: str,
) -> None:
    """containerd makes each pod; the harness never learns its id. The sweep finds it by label."""
    runtime = broken_containerd({"RunPodSandbox": Fault(fault, upstream_first=True)})
    run = failed_run(pytester, runtime, SELECTION, *workers)
    for test in MAKE_PODS:
        assert said in run.failure(test), test
    assert {test: run.outcomes[test] for test in RUNTIME_INFO + IMAGE_PULL} == dict.fromkeys(
        RUNTIME_INFO + IMAGE_PULL, "passed"
    )
    # One pod per test at most: the tests share a pod (per worker) where they can.
    made = runtime.created["pods"]
    assert 0 < len(made) <= len(MAKE_PODS)
    assert sorted(leak["id"] for leak in run.leaks["leaks"]) == sorted(made)
    assert all(leak["removed"] for leak in run.leaks["leaks"]), run.leaks
    assert not left_on(containerd, runtime), "the sweep said it removed pods containerd still has"
    run.assert_bounded(deadlines_s=len(MAKE_PODS) * CRI_TIMEOUT)


def test_hang_ups_garbage_and_silent_streams_fail_the_tests_they_reach_by_name(
    pytester: pytest.Pytester, broken_containerd: StartBroken, containerd: CriClient
) -> None:
    runtime = broken_containerd(
        {
            "ExecSync": Fault(HANG_UP),
            "ContainerStatus": Fault(GARBAGE),
            "Exec": Fault(SILENT_STREAM),
            "ListPodSandbox": Fault(HANG),
        }
    )
    run = failed_run(pytester, runtime, SELECTION)
    hang_up = "ExecSync got no answer: the runtime at unix://"
    assert hang_up in run.failure(EXEC_SYNC[0])
    assert "unavailable or closed the connection" in run.failure(EXEC_SYNC[0])
    assert run.failure(CONTAINERS[0]).endswith(
        "ContainerStatus answered bytes that do not decode as a ContainerStatusResponse "
        "(Exception deserializing response!)"
    )
    silent = f"{runtime.silent_url} did not answer the "
    handshakes = ["SPDY/3.1 upgrade", "WebSocket v4.channel.k8s.io handshake"]
    handshakes += ["WebSocket v5.channel.k8s.io handshake", "SPDY/3.1 upgrade"]
    for test, handshake in zip(STREAMING, handshakes, strict=True):
        assert f"{silent}{handshake} within {CRI_TIMEOUT} s" in run.failure(test)
    assert f"ListPodSandbox did not answer within {CRI_TIMEOUT} s" in run.failure(POD_LIFECYCLE[0])
    passing = RUNTIME_INFO + IMAGE_PULL + POD_LIFECYCLE[1:] + CONTAINERS[1:]
    assert {t: run.outcomes[t] for t in passing} == dict.fromkeys(passing, "passed")
    # The sweep could not list; each test's own cleanup removed its pod (and the containers
    # in it, though ContainerStatus could not show that they were the run's).
    sweep_error = f"ListPodSandbox did not answer within {CRI_TIMEOUT} s"
    assert run.leaks["sweep_error"].startswith(sweep_error), run.leaks
    assert "the sweep could not list what the run left on the runtime" in run.output
    assert not left_on(containerd, runtime)
    streaming_handshakes = len(STREAMING) * CRI_TIMEOUT
    run.assert_bounded(deadlines_s=streaming_handshakes + 2 * CRI_TIMEOUT)


def test_a_hung_teardown_ends_at_its_deadlines_and_the_sweep_says_what_it_left(
    pytester: pytest.Pytester, broken_containerd: StartBroken, containerd: CriClient
) -> None:
    runtime = broken_containerd(
        {
            "StopPodSandbox": Fault(HANG),
            "RemovePodSandbox": Fault(HANG_UP),
            "PullImage": Fault(GARBAGE),
        }
    )
    run = failed_run(pytester, runtime, POD_LIFECYCLE + CONTAINERS[:1] + IMAGE_PULL)
    stop_deadline = 2 * CRI_TIMEOUT  # a teardown call gets twice the deadline
    assert run.outcomes[POD_LIFECYCLE[0]] == "passed"  # its cleanup fails after the test
    stopped = run.failure(POD_LIFECYCLE[1])
    assert f"StopPodSandbox did not answer within {stop_deadline} s" in stopped
    undecodable = "PullImage answered bytes that do not decode as a PullImageResponse"
    assert undecodable in run.failure(CONTAINERS[0])
    assert undecodable in run.failure(IMAGE_PULL[0])
    made = runtime.created["pods"]
    assert len(made) == 3
    leaks = run.leaks["leaks"]
    assert sorted(leak["id"] for leak in leaks) == sorted(made)
    for leak in leaks:
        assert not leak["removed"]
        assert f"StopPodSandbox did not answer within {stop_deadline} s" in leak["error"]
        assert "RemovePodSandbox got no answer" in leak["error"]
        assert f"LEAK pod {leak['name']} ({leak['id'][:13]})" in run.output
    assert sorted(left_on(containerd, runtime)) == sorted(made), "the report is not the truth"
    # Per pod: the test's cleanup and the sweep each wait for one StopPodSandbox.
    run.assert_bounded(deadlines_s=len(made) * 2 * stop_deadline + stop_deadline)
