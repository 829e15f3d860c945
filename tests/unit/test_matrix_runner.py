"""cri-conformance run: targets, profiles and the pytest command line, without running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.endpoints import EndpointError
from harness.matrix.runner import (
    RunError,
    Target,
    access,
    child_environment,
    parse_target,
    pytest_command,
    run_targets,
    with_handlers,
    with_profiles,
)


def test_a_target_is_name_equals_endpoint() -> None:
    assert parse_target("cd=unix:///run/c.sock") == Target("cd", "unix:///run/c.sock")
    assert parse_target("shim=embedded:reject") == Target("shim", "embedded:reject")


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("unix:///run/c.sock", "give NAME=ENDPOINT"),
        ("cd=", "give NAME=ENDPOINT"),
        ("my runtime=/run/c.sock", "the name may hold"),
    ],
)
def test_a_bad_target_says_what_to_give(spec: str, complaint: str) -> None:
    with pytest.raises(RunError, match=complaint):
        parse_target(spec)


def test_profiles_attach_to_the_targets_they_name() -> None:
    targets = [Target("a", "/a.sock"), Target("b", "/b.sock")]
    assert [t.profile for t in with_profiles(targets, ["b=containerd-1.6"])] == [
        None,
        "containerd-1.6",
    ]
    with pytest.raises(RunError, match=r"TARGET=PROFILE for one of the targets \(a, b\)"):
        with_profiles(targets, ["c=containerd-1.6"])


def test_the_pytest_command_names_the_column_endpoint_report_dir_and_profile() -> None:
    target = Target("cd", "/run/c.sock", "containerd-1.6")
    command = pytest_command(target, access(target), Path("reports/cd"), ["suites"], ["-x"])
    assert command == [
        sys.executable, "-m", "pytest", "suites",
        "--cri-endpoint", "unix:///run/c.sock",
        "--cri-image-endpoint", "unix:///run/c.sock",
        "--cri-runtime-name", "cd",
        "--cri-report-dir", "reports/cd",
        "--cri-runtime-profile", "containerd-1.6",
        "-x",
    ]  # fmt: skip


def test_an_embedded_target_is_the_plugins_shim_with_its_own_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONTAINER_RUNTIME_ENDPOINT", "unix:///run/elsewhere.sock")
    target = Target("shim", "embedded:reject")
    command = pytest_command(target, access(target), Path("r"), ["suites"], [])
    assert "--cri-endpoint" not in command
    assert command[command.index("--cri-shim-strategy") + 1] == "reject"
    assert command[command.index("--cri-runtime-profile") + 1] == "reference-shim-reject"
    assert "CONTAINER_RUNTIME_ENDPOINT" not in child_environment()


def test_an_embedded_target_with_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(RunError, match="strategies are reject, shared-vm, separate-vms"):
        access(Target("shim", "embedded:nope"))


def test_a_bad_socket_is_refused_before_any_run(tmp_path: Path) -> None:
    with pytest.raises(EndpointError, match="absolute socket path"):
        run_targets([Target("a", "/a.sock"), Target("b", "b.sock")], tmp_path, [str(tmp_path)])
    assert not (tmp_path / "a").exists()


def test_names_must_differ_and_there_must_be_a_target(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="at least one"):
        run_targets([], tmp_path, [str(tmp_path)])
    with pytest.raises(RunError, match="must differ"):
        run_targets([Target("a", "/a"), Target("a", "/b")], tmp_path, [str(tmp_path)])


def test_handlers_attach_to_the_targets_they_name_and_reach_pytest() -> None:
    targets = with_handlers([Target("runc", "/a.sock"), Target("crun", "/a.sock")], ["crun=crun"])
    assert [t.handler for t in targets] == [None, "crun"]
    command = pytest_command(targets[1], access(targets[1]), Path("r"), ["suites"], [])
    assert command[command.index("--cri-runtime-handler") + 1] == "crun"
    assert "--cri-runtime-handler" not in pytest_command(
        targets[0], access(targets[0]), Path("r"), ["suites"], []
    )
    with pytest.raises(RunError, match=r"--runtime-handler 'c=crun': give TARGET=HANDLER"):
        with_handlers(targets, ["c=crun"])


class FakePytest:
    """Stands in for subprocess.run: records which column ran, writes its output, exits 0."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def __call__(self, command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        name = command[command.index("--cri-runtime-name") + 1]
        self.started.append(name)
        if options.get("stdout") is not None:
            options["stdout"].write(f"the output of {name}\n")
        return subprocess.CompletedProcess(command, 0)


def test_runs_start_longest_first_unknown_ones_before_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakePytest()
    monkeypatch.setattr("harness.matrix.runner.subprocess.run", fake)
    targets = [Target(name, f"/{name}.sock") for name in ("short", "long", "new")]
    durations = {"short": 10.0, "long": 300.0, "gone": 900.0}
    assert run_targets(targets, tmp_path, [str(tmp_path)], durations=durations) == 0
    assert fake.started == ["new", "long", "short"]


def test_a_parallel_run_keeps_each_runs_output_whole_in_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("harness.matrix.runner.subprocess.run", FakePytest())
    targets = [Target(name, f"/{name}.sock") for name in ("a", "b", "c")]
    assert run_targets(targets, tmp_path, [str(tmp_path)], parallel=2) == 0
    printed = capsys.readouterr().out
    for name in ("a", "b", "c"):
        log = tmp_path / name / "pytest.log"
        assert log.read_text() == f"the output of {name}\n"
        assert f"cri-conformance run: {name} ended (exit 0); its output ({log}):\n" in printed
    with pytest.raises(RunError, match="at least one target at a time"):
        run_targets(targets, tmp_path, [str(tmp_path)], parallel=0)


def test_a_run_that_wrote_no_matrix_has_its_reason_repeated_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A CI log often keeps only its tail: the reason must be there, not only minutes above it.
    monkeypatch.setattr("harness.matrix.runner.subprocess.run", FakePytest())
    targets = [Target(name, f"/{name}.sock") for name in ("a", "b")]
    assert run_targets(targets, tmp_path, [str(tmp_path)], parallel=2) == 0
    tail = capsys.readouterr().out.split("cri-conformance run: a wrote no matrix (exit 0)\n")[-1]
    assert tail.startswith("  | the output of a\n")
