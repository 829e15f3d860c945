"""The CI definitions that no CI system runs here: the GitHub action, the GitLab-CI job of
docs/ci.md and the Sonobuoy plugin. Each must name what its script or image provides."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "ci" / "conformance"
IMAGE_BUILD = REPO / "scripts" / "build-harness-image"
ENTRY_POINT = REPO / "ci" / "image" / "cri-conformance-node"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def script_commands() -> set[str]:
    """The subcommands of ci/conformance (its case branches)."""
    return set(re.findall(r"^    (\w+)\) ", SCRIPT.read_text(), re.MULTILINE))


def script_variables() -> set[str]:
    """The settings ci/conformance reads, as its header lists them."""
    header = [line for line in SCRIPT.read_text().splitlines() if line.startswith("#")]
    return set(re.findall(r"\b(CRI_[A-Z_]+)\b", "\n".join(header)))


def test_the_action_declares_its_inputs_and_calls_the_script() -> None:
    action = load(REPO / "action.yml")
    inputs = action["inputs"]
    assert inputs["endpoint"]["required"] is True
    assert {"endpoint", "profile", "pytest-args"} <= set(inputs)
    assert all(spec.get("description") for spec in inputs.values())
    steps = action["runs"]["steps"]
    assert action["runs"]["using"] == "composite"
    calls = [step["run"] for step in steps if "run" in step]
    assert calls == [f'"$GITHUB_ACTION_PATH/ci/conformance" {c}' for c in ("install", "run")]
    assert {"install", "run"} <= script_commands()
    for step in steps:
        if "run" in step:
            assert "${{" not in step["run"], "an input interpolated into a shell line"
            assert step["shell"] == "bash"
            assert set(step.get("env", {})) <= script_variables(), step["env"]
            for value in step.get("env", {}).values():
                used = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", value)
                assert used, value
                assert used[1] in inputs, value


def test_the_action_uploads_the_report_folder_even_after_a_failure() -> None:
    action = load(REPO / "action.yml")
    (upload,) = [s for s in action["runs"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "${{ inputs.report-dir }}"
    run_step = next(step for step in action["runs"]["steps"] if step.get("id") == "run")
    for name, output in action["outputs"].items():
        assert output["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
        assert f"output {name} " in SCRIPT.read_text()
    assert run_step["env"]["CRI_REPORT_DIR"] == "${{ inputs.report-dir }}"


def gitlab_job() -> dict[str, Any]:
    text = (REPO / "docs" / "ci.md").read_text()
    section = text[text.index("## GitLab CI") :]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    (job,) = yaml.safe_load(block).values()
    return dict(job)


def test_the_gitlab_job_runs_the_script_and_keeps_the_junit_report() -> None:
    job = gitlab_job()
    assert job["script"] == [f"cri-conformance/ci/conformance {c}" for c in ("install", "run")]
    variables = job["variables"]
    assert {name for name in variables if name.startswith("CRI_")} <= script_variables()
    report_dir = variables["CRI_REPORT_DIR"]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert f"{report_dir}/" in artifacts["paths"]
    written = f"{report_dir}/{variables['CRI_NAME']}/junit.xml"  # cri-conformance run's layout
    assert fnmatch.fnmatch(written, artifacts["reports"]["junit"])


def test_the_sonobuoy_plugin_runs_the_image_entry_point_with_what_the_suite_needs() -> None:
    plugin = load(REPO / "ci" / "sonobuoy" / "cri-conformance.yaml")
    config = plugin["sonobuoy-config"]
    assert (config["driver"], config["result-format"]) == ("DaemonSet", "junit")
    container, pod = plugin["spec"], plugin["podSpec"]
    (entry_point,) = container["command"]
    assert f"--config.entrypoint={entry_point}" in IMAGE_BUILD.read_text()
    assert f'"$root{entry_point}"' in IMAGE_BUILD.read_text()  # where the build installs it
    assert ENTRY_POINT.exists()
    assert (pod["hostNetwork"], pod["hostPID"], pod["hostIPC"]) == (True, True, True)
    assert container["securityContext"]["privileged"] is True
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert set(env) <= set(re.findall(r"\$\{(\w+)", ENTRY_POINT.read_text()))
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    assert mounts["results"]["mountPath"] == env["SONOBUOY_RESULTS_DIR"] == "/tmp/sonobuoy/results"
    assert "results" not in {volume["name"] for volume in pod["volumes"]}  # Sonobuoy adds it
    volumes = {volume["name"]: volume["hostPath"] for volume in pod["volumes"]}
    assert set(volumes) == set(mounts) - {"results"}
    socket = env["CRI_ENDPOINT"].removeprefix("unix://")
    assert mounts["cri-socket"]["mountPath"] == volumes["cri-socket"]["path"] == socket
    scratch = mounts["scratch"]
    assert scratch["mountPath"] == volumes["scratch"]["path"] == env["CRI_SCRATCH_DIR"]
    assert scratch["mountPropagation"] == "Bidirectional"
    assert mounts["cgroup"]["mountPath"] == volumes["cgroup"]["path"] == "/sys/fs/cgroup"
