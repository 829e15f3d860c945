"""cri-conformance run: targets, profiles and the pytest command line, without running."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

import pytest

from harness.matrix.runner import (
    RunError,
    Target,
    parse_target,
    pytest_command,
    run_targets,
    serving,
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
    command = pytest_command(
        Target("cd", "/run/c.sock", "containerd-1.6"),
        "unix:///run/c.sock",
        Path("reports/cd"),
        Path("suites"),
        ["-n", "2"],
    )
    assert command == [
        sys.executable, "-m", "pytest", "suites",
        "--cri-endpoint", "unix:///run/c.sock",
        "--runtime-name", "cd",
        "--report-dir", "reports/cd",
        "--runtime-profile", "containerd-1.6",
        "-n", "2",
    ]  # fmt: skip


def test_a_socket_target_is_served_as_it_is() -> None:
    with serving(Target("cd", "/run/c.sock")) as endpoint:
        assert endpoint == "unix:///run/c.sock"
    assert isinstance(serving(Target("cd", "unix:///run/c.sock")), nullcontext)


def test_names_must_differ_and_there_must_be_a_target(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="at least one"):
        run_targets([], tmp_path, tmp_path)
    with pytest.raises(RunError, match="must differ"):
        run_targets([Target("a", "/a"), Target("a", "/b")], tmp_path, tmp_path)
