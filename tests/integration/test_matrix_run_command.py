"""cri-conformance run: one pytest per target, one merged matrix; the embedded shim is a target."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.matrix.document import load

# Two tests whose outcome is known on both runtimes (containerd 1.6 lacks RuntimeConfig).
CHOSEN = "test_version_names_the_runtime_and_the_v1_api or test_runtime_config_reports"


def test_run_command_runs_each_target_and_merges(
    tmp_path: Path, containerd_endpoint: str, capfd: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "run",
            "--target", f"first={containerd_endpoint}",
            "--target", f"second={containerd_endpoint}",
            "--profile", "first=containerd-1.6",
            "--report-dir", str(tmp_path),
            "--", "-k", CHOSEN, "-p", "no:cacheprovider",
        ]
    )  # fmt: skip
    assert code == 0, capfd.readouterr().out
    for name in ("first", "second"):
        assert (tmp_path / name / "matrix.json").exists()
        assert (tmp_path / name / "junit.xml").exists()
    merged = load(tmp_path / "matrix.json")
    assert merged.runtime_names() == ["first", "second"]
    assert [run.profile for run in merged.runtimes] == ["containerd-1.6", None]
    states = {
        (row.id, name): cell.state.value
        for row in merged.features
        for name, cell in row.cells.items()
    }
    assert states == {
        ("runtime.version", "first"): "pass",
        ("runtime.version", "second"): "pass",
        ("runtime.config.cgroup-driver", "first"): "unsupported",
        ("runtime.config.cgroup-driver", "second"): "unsupported",
    }
    assert (tmp_path / "matrix.html").exists()
    assert (tmp_path / "matrix.md").exists()


def test_the_embedded_reference_shim_is_a_target(
    tmp_path: Path, containerd_endpoint: str, capfd: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "run",
            "--target", "shim=embedded:reject",
            "--target", f"containerd={containerd_endpoint}",
            "--report-dir", str(tmp_path),
            "--", "-k", CHOSEN, "-p", "no:cacheprovider",
        ]
    )  # fmt: skip
    assert code == 0, capfd.readouterr().out
    merged = load(tmp_path / "matrix.json")
    shim, containerd = merged.runtimes
    assert (shim.name, shim.runtime_name, shim.profile) == (
        "shim",
        "cri-conformance-shim",
        "reference-shim-reject",
    )
    assert shim.endpoint
    assert shim.endpoint.startswith("unix:///")
    assert containerd.runtime_name == "containerd"
    cgroup = next(row for row in merged.features if row.id == "runtime.config.cgroup-driver")
    assert cgroup.cells["containerd"].state == "unsupported"
    assert cgroup.cells["shim"].state == "pass"
    assert not Path(shim.endpoint.removeprefix("unix://")).exists()  # the shim is gone
    assert "--cri-shim-strategy reject" in capfd.readouterr().out
