"""Which strategies the shim runs on the apple backend: the pair is checked when it starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from apple_double import CliDouble

from reference_shim.__main__ import main


def shim_command(tmp_path: Path, double: CliDouble, strategy: str) -> list[str]:
    return [
        "--socket", str(tmp_path / "cri.sock"), "--state-dir", str(tmp_path / "state"),
        "--backend", "apple", "--container-cli", double.path, "--strategy", strategy,
    ]  # fmt: skip


def test_shared_vm_is_refused_at_start_saying_why_and_what_runs(
    tmp_path: Path, double: CliDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not at a pod's second CreateContainer: before the shim serves, or calls Apple's CLI."""
    assert main(shim_command(tmp_path, double, "shared-vm")) == 1
    error = capsys.readouterr().err
    assert error.startswith("reference_shim: strategy 'shared-vm' needs a backend that runs ")
    assert "several workloads inside one pod VM at once" in error
    assert "the apple backend does not (strategies it can run: reject, separate-vms)" in error
    assert double.calls() == []
    assert not (tmp_path / "cri.sock").exists()
