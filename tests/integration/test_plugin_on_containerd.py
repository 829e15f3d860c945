"""The plugin end to end, in a child pytest against containerd: errors, cleanup and leaks."""

from __future__ import annotations

import re
import time

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.ownership import RUN_LABEL

FAILS_HALFWAY = """
import pytest

@pytest.mark.feature("container.lifecycle")
def test_fails_after_creating_things(cri, make_pod, make_container):
    pod = make_pod("halfway")
    make_container(pod)
    make_container(pod, name="second", start=False)
    assert False, "failing on purpose"
"""

LEAKS_A_POD = """
from harness.builders import pod_config

def test_creates_a_pod_nobody_tracks(cri, run_context):
    config = pod_config("leaky", run_id=run_context.run_id, test="leaky-test")
    cri.run_pod(config)
"""


def run_id_of(output: str) -> str:
    match = re.search(r"run (\d{8}-\d{6}-[0-9a-f]{6})", output)
    assert match, f"no run id in the output:\n{output}"
    return match.group(1)


def objects_of_run(client: CriClient, run_id: str) -> list[str]:
    selector = {RUN_LABEL: run_id}
    pods = client.list_pods(api.PodSandboxFilter(label_selector=selector))
    containers = client.list_containers(api.ContainerFilter(label_selector=selector))
    return [pod.id for pod in pods] + [container.id for container in containers]


def child_run(pytester: pytest.Pytester, endpoint: str, **modules: str) -> pytest.RunResult:
    """A pytest run of ``modules`` (name: source) against ``endpoint``, in a process of its own."""
    pytester.makepyfile(**modules)
    return pytester.runpytest_subprocess("--cri-endpoint", endpoint)


def assert_nothing_left(containerd: CriClient, result: pytest.RunResult) -> None:
    """The child run says it left nothing behind, and the runtime agrees."""
    output = result.stdout.str()
    assert "no pods or containers left behind" in output
    assert objects_of_run(containerd, run_id_of(output)) == []


def test_a_wrong_endpoint_is_one_line_within_the_timeout(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(cri):\n    pass\n")
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "--cri-endpoint", "unix:///nonexistent/runtime.sock", "--cri-timeout", "2"
    )
    elapsed = time.monotonic() - started
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "unix:///nonexistent/runtime.sock" in output
    assert "Traceback" not in output
    assert elapsed < 30


def test_a_test_failing_halfway_leaves_nothing_behind(
    pytester: pytest.Pytester, containerd: CriClient, containerd_endpoint: str
) -> None:
    result = child_run(pytester, containerd_endpoint, test_halfway=FAILS_HALFWAY)
    result.assert_outcomes(failed=1)
    assert_nothing_left(containerd, result)


def test_an_untracked_object_is_swept_reported_and_fails_the_run(
    pytester: pytest.Pytester, containerd: CriClient, containerd_endpoint: str
) -> None:
    pytester.makepyfile(test_leaky=LEAKS_A_POD)
    result = pytester.runpytest_subprocess("--cri-endpoint", containerd_endpoint)
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert re.search(r"LEAK pod leaky .* made by leaky-test: removed", output), output
    run_id = re.search(r"object\(s\) of run (\S+) were left behind", output)
    assert run_id, output
    assert objects_of_run(containerd, run_id.group(1)) == []


def test_workers_share_one_run_and_clean_up_under_xdist(
    pytester: pytest.Pytester, containerd: CriClient, containerd_endpoint: str
) -> None:
    pytester.makepyfile(
        test_parallel="""
import pytest

@pytest.mark.parametrize("n", range(4))
def test_pod_with_container(cri, make_pod, make_container, n):
    pod = make_pod(f"par{n}")
    container = make_container(pod)
    assert cri.container_status(container.id).status.state == 1
"""
    )
    result = pytester.runpytest_subprocess("--cri-endpoint", containerd_endpoint, "-n", "2")
    result.assert_outcomes(passed=4)
    output = result.stdout.str()
    assert objects_of_run(containerd, run_id_of(output)) == []


SHARES_A_POD = """
from cri_api.v1 import api_pb2 as api

seen = []

def test_first(cri, shared_pod, shared_container, make_container, make_pod):
    make_container(shared_pod, name="first")
    make_pod("own")  # removed by the removal queue while the next test runs
    seen.append((shared_pod.id, shared_container.id))

def test_second(cri, shared_pod, shared_container):
    assert seen == [(shared_pod.id, shared_container.id)], "the shared objects were remade"
    assert shared_container.pod.id != shared_pod.id
    left = cri.list_containers(api.ContainerFilter(pod_sandbox_id=shared_pod.id))
    assert left == [], "the first test's container outlived it"
"""

# A second module: the run's shared objects outlive the first module's tests too.
SHARES_IT_ACROSS_MODULES = """
from test_shared import seen

def test_third(shared_pod, shared_container):
    assert seen == [(shared_pod.id, shared_container.id)], "the next module got new ones"
"""


def test_the_shared_objects_outlive_tests_and_modules_and_not_the_run(
    pytester: pytest.Pytester, containerd: CriClient, containerd_endpoint: str
) -> None:
    result = child_run(
        pytester,
        containerd_endpoint,
        test_shared=SHARES_A_POD,
        test_shared_later=SHARES_IT_ACROSS_MODULES,
    )
    result.assert_outcomes(passed=3)
    assert_nothing_left(containerd, result)


STOPS_IN_A_MODULE = """
import pytest

def test_first(shared_pod, make_container, make_pod):
    make_container(shared_pod)
    make_pod("own")
    pytest.exit("stopped halfway")

def test_second(shared_pod):
    pass
"""


def test_a_run_stopped_halfway_removes_the_shared_pods_before_its_sweep(
    pytester: pytest.Pytester, containerd: CriClient, containerd_endpoint: str
) -> None:
    # pytest.exit (as an interrupt) ends the run before its test's teardown: pytest tears the
    # fixtures down in its own sessionfinish, which must come before the sweep, or the pods
    # the removal queue has yet to remove count as leaks.
    result = child_run(pytester, containerd_endpoint, test_stops=STOPS_IN_A_MODULE)
    assert "stopped halfway" in result.stdout.str()
    assert_nothing_left(containerd, result)


def test_an_unknown_feature_id_stops_the_run_naming_the_registry_file(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest("CRI_CONFORMANCE_SUITE = True\n")  # markers are checked in suites
    pytester.makepyfile(
        test_x='import pytest\n\n@pytest.mark.feature("pod.no-such")\ndef test_x():\n    pass\n'
    )
    for extra in ([], ["-n", "2"]):
        result = pytester.runpytest_subprocess(*extra)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert "harness/features/pod.yaml" in result.stdout.str()
