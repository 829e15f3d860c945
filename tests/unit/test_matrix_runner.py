"""cri-conformance run: targets, profiles and the pytest command line, without running."""

from __future__ import annotations

import sys
from pathlib import Path

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
