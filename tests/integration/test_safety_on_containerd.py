"""Runs against a runtime whose lists ignore their filters never touch a pod they did not make.

containerd sits behind ``FilterIgnoringProxy``; a "production" pod with a running container,
made on containerd directly and without the run label, is shown in the proxy's lists. A passing
run that leaves a pod for the sweep, a failing run, a run whose sweep cannot list, and replays
all go through the proxy; the production pod must come out of each as it went in.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api
from cri_proxy import RUNTIME, left_on
from filter_ignoring_proxy import FilterIgnoringProxy
from simplest_specs import IMAGE, a_spec

from harness.cli import main
from harness.client import CriClient
from harness.properties import spec_files

REPO = Path(__file__).resolve().parents[2]
LEAKS_A_POD = """
from harness.builders import pod_config

def test_creates_a_pod_nobody_tracks(cri, run_context):
    cri.run_pod(pod_config("leaky", run_id=run_context.run_id, test="leaky-test"))
"""
# Suites that pass on containerd and do not list: a filter-ignoring runtime passes them.
PASSING_SUITES = ["suites/test_container_exec.py", "suites/test_container_config.py"]
# The label selector of each list that takes one; a runtime ignoring it must fail each test.
LABEL_FILTER_TESTS = [
    "suites/test_pod_list.py::test_list_pods_filtered_by_label_selector_returns_exactly_the_matches",
    "suites/test_container_list.py::"
    "test_filtering_by_labels_returns_exactly_the_containers_with_all_of_them",
    "suites/test_container_stats.py::"
    "test_listing_container_stats_by_labels_returns_exactly_the_matches",
    "suites/test_container_stats.py::"
    "test_listing_pod_stats_by_id_and_by_labels_returns_exactly_the_matches",
]


@dataclass(frozen=True)
class Production:
    """A pod somebody else runs on the node, and its container."""

    pod: str
    name: str
    container: str
    started_at: int

    def assert_untouched(self, containerd: CriClient) -> None:
        pod = containerd.pod_status(self.pod).status
        assert pod.state == api.SANDBOX_READY, f"production pod {self.name} is no longer ready"
        container = containerd.container_status(self.container).status
        assert container.state == api.CONTAINER_RUNNING, "production container was stopped"
        assert container.started_at == self.started_at, "production container was restarted"


@pytest.fixture
def production(containerd: CriClient) -> Iterator[Production]:
    name = f"production-{secrets.token_hex(4)}"
    labels = {"app": "production"}
    metadata = api.PodSandboxMetadata(name=name, namespace="production", uid=str(uuid.uuid4()))
    config = api.PodSandboxConfig(metadata=metadata, labels=labels)
    pod_id = containerd.run_pod(config)
    try:
        containerd.pull_image(IMAGE)
        container_id = containerd.create_container(
            pod_id,
            api.ContainerConfig(
                metadata=api.ContainerMetadata(name="shop"),
                image=api.ImageSpec(image=IMAGE),
                command=["sleep", "3600"],
                labels=labels,
            ),
            config,
        )
        containerd.start_container(container_id)
        started_at = containerd.container_status(container_id).status.started_at
        yield Production(pod_id, name, container_id, started_at)
    finally:
        containerd.stop_pod(pod_id)
        containerd.remove_pod(pod_id)


@pytest.fixture
def proxy(
    tmp_path: Path, containerd_endpoint: str, production: Production
) -> Iterator[FilterIgnoringProxy]:
    with FilterIgnoringProxy(containerd_endpoint, tmp_path / "proxy.sock") as serving:
        serving.show(production.pod, production.container)
        yield serving


def assert_all_removed(containerd: CriClient, proxy: FilterIgnoringProxy) -> None:
    """Everything the run created through the proxy is gone from containerd."""
    assert proxy.created["pods"], "the run created nothing through the proxy"
    left = left_on(containerd, proxy)
    assert not left, f"the run left {left} on containerd"


def run_suite(
    pytester: pytest.Pytester, proxy: FilterIgnoringProxy, *args: str
) -> tuple[str, dict[str, int]]:
    """The output and outcomes of a child pytest through the proxy, which must fail."""
    result = pytester.runpytest_subprocess(
        *args, "--cri-endpoint", proxy.endpoint, "-p", "no:cacheprovider", timeout=120
    )
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    return output, result.parseoutcomes()


def test_a_passing_run_sweeps_its_leak_and_leaves_the_production_pod_alone(
    pytester: pytest.Pytester,
    containerd: CriClient,
    proxy: FilterIgnoringProxy,
    production: Production,
) -> None:
    pytester.makepyfile(test_leaky=LEAKS_A_POD)
    suites = [str(REPO / path) for path in PASSING_SUITES]
    output, outcomes = run_suite(pytester, proxy, "test_leaky.py", *suites)
    assert set(outcomes) == {"passed"}, output
    assert outcomes["passed"] > 1, "the suites did not run"
    production.assert_untouched(containerd)
    assert "LEAK pod leaky" in output, output
    assert "made by leaky-test: removed" in output
    assert "SAFETY WARNING" in output
    assert f"left alone: pod {production.name} ({production.pod})" in output
    assert f"left alone: container shop ({production.container})" in output
    assert_all_removed(containerd, proxy)


def test_a_failing_run_leaves_the_production_pod_alone_and_fails_the_label_filters(
    pytester: pytest.Pytester,
    containerd: CriClient,
    proxy: FilterIgnoringProxy,
    production: Production,
) -> None:
    output, outcomes = run_suite(pytester, proxy, *(str(REPO / t) for t in LABEL_FILTER_TESTS))
    assert outcomes == {"failed": len(LABEL_FILTER_TESTS)}, output
    production.assert_untouched(containerd)
    assert f"left alone: pod {production.name} ({production.pod})" in output
    assert_all_removed(containerd, proxy)


def test_a_sweep_that_cannot_list_fails_a_passing_run(
    pytester: pytest.Pytester, containerd: CriClient, tmp_path: Path, containerd_endpoint: str
) -> None:
    pytester.makepyfile(test_pod="def test_a_pod(make_pod):\n    make_pod()\n")
    lists = frozenset({RUNTIME + "ListContainers", RUNTIME + "ListPodSandbox"})
    socket = tmp_path / "failing.sock"
    with FilterIgnoringProxy(containerd_endpoint, socket, failing=lists) as failing:
        output, outcomes = run_suite(pytester, failing, "test_pod.py")
    assert outcomes == {"passed": 1}, output
    assert "the sweep could not list what the run left on the runtime, so the run fails" in output
    assert "ListContainers fails on purpose" in output
    assert_all_removed(containerd, failing)


def test_replay_leaves_the_production_pod_alone_and_fails_when_it_cannot_list(
    tmp_path: Path,
    containerd: CriClient,
    containerd_endpoint: str,
    proxy: FilterIgnoringProxy,
    production: Production,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = spec_files.save(a_spec("container-process"), tmp_path / "spec.json")
    assert main(["replay", str(path), "--cri-endpoint", proxy.endpoint]) == 1
    said = capsys.readouterr().out
    assert f"left alone: pod {production.name} ({production.pod})" in said
    assert "container-process (properties.container-process)" in said
    assert "PASS" in said
    production.assert_untouched(containerd)
    assert_all_removed(containerd, proxy)

    lists = frozenset({RUNTIME + "ListContainers"})
    with FilterIgnoringProxy(containerd_endpoint, tmp_path / "f.sock", failing=lists) as failing:
        assert main(["replay", str(path), "--cri-endpoint", failing.endpoint]) == 1
    said = capsys.readouterr().out
    assert "the sweep could not list what the replay left" in said
    assert "ListContainers fails on purpose" in said
    assert_all_removed(containerd, failing)
