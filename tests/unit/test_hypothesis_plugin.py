"""The property plugin's profiles and seed, in child pytest processes (hypothesis' settings
are global, so loading a profile here would change every later test of this session)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, settings

from harness import hypothesis_profiles

PASSING = """
from hypothesis import given, settings, strategies as st

def test_profile_in_force():
    print("PROFILE", settings.get_current_profile_name(), settings.default.max_examples)

@given(st.integers())
def test_runs(n):
    pass
"""


def header_of(pytester: pytest.Pytester, *args: str) -> str:
    pytester.makepyfile(test_x=PASSING)
    result = pytester.runpytest_subprocess("-s", *args)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    return result.stdout.str()


def test_ci_is_the_default_and_says_it_is_derandomized(pytester: pytest.Pytester) -> None:
    output = header_of(pytester)
    assert "hypothesis profile ci, derandomized" in output
    assert "PROFILE ci 6" in output


def test_thorough_prints_the_seed_it_chose(pytester: pytest.Pytester) -> None:
    output = header_of(pytester, "--hypothesis-profile", "thorough")
    assert re.search(r"hypothesis profile thorough, seed \d+ \(--hypothesis-seed \d+\)", output)
    assert "PROFILE thorough 100" in output


def test_thorough_draws_a_seed_when_hypothesis_detects_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``CI`` set hypothesis loads its own derandomized profile; ours must not inherit it."""
    monkeypatch.setenv("CI", "true")
    output = header_of(pytester, "--hypothesis-profile", "thorough")
    assert re.search(r"hypothesis profile thorough, seed \d+ \(--hypothesis-seed \d+\)", output)


def test_a_given_seed_is_the_one_printed(pytester: pytest.Pytester) -> None:
    output = header_of(pytester, "--hypothesis-profile", "thorough", "--hypothesis-seed", "4242")
    assert "seed 4242 (--hypothesis-seed 4242)" in output


def test_xdist_workers_use_the_controllers_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_x="""
import os
import hypothesis.core

def record_seed():
    with open(f"seed-{os.getpid()}", "w") as file:
        file.write(str(hypothesis.core.global_force_seed))

def test_seed_a():
    record_seed()

def test_seed_b():
    record_seed()
"""
    )
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", "each", "--hypothesis-profile", "thorough"
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    header_seed = re.search(r"seed (\d+) \(--hypothesis-seed", result.stdout.str())
    assert header_seed, result.stdout.str()
    seeds = {path.read_text() for path in pytester.path.glob("seed-*")}
    assert seeds == {header_seed.group(1)}
    assert len(list(pytester.path.glob("seed-*"))) == 2, "expected one record per worker"


def test_sharing_fixtures_adds_the_check_to_the_profile_in_force() -> None:
    shared = hypothesis_profiles.sharing_fixtures()
    assert HealthCheck.function_scoped_fixture in shared.suppress_health_check
    assert shared.max_examples == settings().max_examples
