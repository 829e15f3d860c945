"""The GitHub action's script (ci/conformance), run as the action runs it: the wheel
installed into a fresh virtualenv, the suite run against containerd, the verdict and the
matrix appended to a GITHUB_STEP_SUMMARY file, the outputs written to GITHUB_OUTPUT."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from installed_wheel import REPO, build_wheel, clean_environment, offline_wheelhouse

SCRIPT = REPO / "ci" / "conformance"


class Action:
    """The script with the environment GitHub Actions would give it, in a work folder."""

    def __init__(self, root: Path, wheel: Path) -> None:
        self.root = root
        self.workdir = root / "work"
        self.workdir.mkdir()
        self.summary = root / "step-summary.md"
        self.outputs = root / "outputs"
        self.env = clean_environment(
            RUNNER_TEMP=str(root),
            GITHUB_STEP_SUMMARY=str(self.summary),
            GITHUB_OUTPUT=str(self.outputs),
            CRI_PACKAGE=str(wheel),
            PIP_NO_INDEX="1",
            PIP_FIND_LINKS=str(offline_wheelhouse()),
        )

    def step(self, command: str, **inputs: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), command],
            cwd=self.workdir,
            env={**self.env, **inputs},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def output(self) -> dict[str, str]:
        lines = self.outputs.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="module")
def action(tmp_path_factory: pytest.TempPathFactory) -> Action:
    root = tmp_path_factory.mktemp("github-action")
    action = Action(root, build_wheel(root))
    installed = action.step("install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "cri-conformance 0.1.0" in installed.stdout
    return action


def test_the_run_step_writes_the_verdict_and_matrix_into_the_summary(
    action: Action, containerd_endpoint: str
) -> None:
    done = action.step(
        "run",
        CRI_ENDPOINT=containerd_endpoint,
        CRI_NAME="containerd",
        CRI_PROFILE="containerd-1.6",
        CRI_PYTEST_ARGS="--cri-area 'runtime' -p no:cacheprovider",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = action.summary.read_text()
    assert summary.startswith("## CRI conformance: containerd\n")
    assert "profile `containerd-1.6`: the run passed." in summary
    reports = action.workdir / "cri-conformance-reports"
    assert (reports / "matrix.md").read_text() in summary
    assert "conformant to the required set: no" in summary  # one area: requirements not run
    assert "runtime.version" in summary
    assert (reports / "containerd" / "junit.xml").exists()
    assert action.output() == {
        "report-dir": "cri-conformance-reports",
        "exit-code": "0",
        "conformant": "no",
    }


def test_a_failed_run_still_says_so_in_the_summary(action: Action, tmp_path: Path) -> None:
    action.summary.write_text("earlier step\n")
    action.outputs.unlink(missing_ok=True)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "matrix.md").write_text("an earlier job's matrix\n")
    done = action.step(
        "run",
        CRI_ENDPOINT=f"unix://{tmp_path}/no-such.sock",
        CRI_REPORT_DIR=str(reports),
        CRI_PYTEST_ARGS="-p no:cacheprovider",
    )
    assert done.returncode != 0
    summary = action.summary.read_text()
    assert summary.startswith("earlier step\n## CRI conformance: runtime\n")  # appended
    assert f"exit status {done.returncode}" in summary
    assert "an earlier job's matrix" not in summary
    assert "No matrix was written" in summary
    assert action.output()["exit-code"] == str(done.returncode)
    assert action.output()["conformant"] == "unknown"


def test_pytest_arguments_that_do_not_split_are_refused(action: Action) -> None:
    done = action.step("run", CRI_ENDPOINT="unix:///nonexistent.sock", CRI_PYTEST_ARGS="-k 'a")
    assert done.returncode == 2
    assert "cannot be split" in done.stderr


def test_the_run_step_needs_an_endpoint(action: Action) -> None:
    done = action.step("run")
    assert done.returncode == 2
    assert "no endpoint" in done.stderr
