"""The property runner with its removal queue: an example's pods go while the next example runs,
and a removal that fails still fails the test, naming the example's spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api
from test_resources import MINE, RUN, RecordingRuntime

from harness.builders import pod_config
from harness.factories import ImagePuller
from harness.properties import registry
from harness.properties.lab import Lab, LabCleanupFailed
from harness.properties.runner import FAILING_SPECS, PropertyRunner, Reproduction
from harness.properties.spec_files import Spec
from harness.properties.specs import Owner
from harness.removal_queue import RemovalQueue

PROPERTY = "unit.runs-its-pod"


class PodMakingRuntime(RecordingRuntime):
    """Runs pods as asked, as pod-0, pod-1...; ``broken`` ids fail to stop."""

    made = 0

    def run_pod(self, config: api.PodSandboxConfig, runtime_handler: str = "") -> str:
        pod_id = f"pod-{self.made}"
        self.made += 1
        self.add_pod(pod_id, dict(config.labels))
        return pod_id

    def close(self) -> None:
        pass


def runs_its_pod(lab: Lab, spec: Spec) -> None:
    lab.run_pod(spec.pod)
    assert spec.params.get("fail") != "yes", "the property failed"


@pytest.fixture(autouse=True)
def a_property(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        registry.PROPERTIES, PROPERTY, registry.Property(PROPERTY, "unit", runs_its_pod)
    )


def runner_for(runtime: PodMakingRuntime, report_dir: Path) -> PropertyRunner:
    return PropertyRunner(
        client=runtime,  # type: ignore[arg-type]  # a fake CriClient
        puller=ImagePuller(runtime),  # type: ignore[arg-type]  # a fake CriClient
        owner=Owner(RUN.run_id, "suites/test_properties.py::test_x[unit]", "/nonexistent"),
        report_dir=report_dir,
        reproduction=Reproduction("cri-conformance-ci", None, "unix:///unit.sock"),
        removal_queue=RemovalQueue(runtime),  # type: ignore[arg-type]  # a fake CriClient
    )


def spec(name: str, **params: str) -> Spec:
    config = pod_config(name, run_id=RUN.run_id)
    assert dict(config.labels) == MINE
    return Spec(PROPERTY, config, params=params)


def test_pods_are_removed_after_the_example_and_all_of_them_by_finish(tmp_path: Path) -> None:
    runtime = PodMakingRuntime()
    runner = runner_for(runtime, tmp_path)
    for name in ("first", "second", "third"):
        runner.check(spec(name))
    runner.finish()
    assert runtime.pods == {}
    assert [call.split()[0] for call in runtime.calls].count("RemovePodSandbox") == 3


def test_a_failed_removal_of_a_passing_example_fails_the_test_naming_its_spec(
    tmp_path: Path,
) -> None:
    runtime = PodMakingRuntime(broken={"pod-0"})
    runner = runner_for(runtime, tmp_path)
    runner.check(spec("stuck"))
    runner.check(spec("fine"))
    with pytest.raises(LabCleanupFailed, match="disk on fire") as failure:
        runner.finish()
    saved = tmp_path / FAILING_SPECS / "unit.cleanup.json"
    assert f"failing spec saved to {saved}" in str(failure.value.__notes__)
    assert json.loads(saved.read_text())["pod"]["metadata"]["name"] == "stuck"


def test_a_failed_removal_of_a_failing_example_is_not_reported_again(tmp_path: Path) -> None:
    runtime = PodMakingRuntime(broken={"pod-0"})
    runner = runner_for(runtime, tmp_path)
    with pytest.raises(AssertionError, match="the property failed"):
        runner.check(spec("failing", fail="yes"))
    runner.finish()
    assert not (tmp_path / FAILING_SPECS / "unit.cleanup.json").exists()
