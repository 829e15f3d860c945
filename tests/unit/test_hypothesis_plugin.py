"""The property plugin's profiles and seed, in child pytest processes (hypothesis' settings
are global, so loading a profile here would change every later test of this session)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, settings

from harness.properties import hypothesis_profiles

CONFORMANCE_FOLDER = "CRI_CONFORMANCE_SUITE = True\n"
# A property test as the suite writes one, and a plain hypothesis test of the same session.
TESTS = """
from hypothesis import given, settings, strategies as st
from harness.properties.hypothesis_profiles import for_property_tests

EXAMPLES = []

@for_property_tests()
@given(st.integers())
def test_property(n):
    EXAMPLES.append(n)

def test_report():
    print("PROPERTY EXAMPLES", len(EXAMPLES))
    print("SESSION PROFILE", settings.get_current_profile_name(), settings.default.max_examples)
"""


def run_conformance_folder(pytester: pytest.Pytester, *args: str) -> str:
    pytester.makeconftest(CONFORMANCE_FOLDER)
    pytester.makepyfile(test_x=TESTS)
    result = pytester.runpytest_subprocess("-s", *args)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    return result.stdout.str()


def assert_session_keeps_hypothesis_own_profile(output: str) -> None:
    """The plain test runs under the profile hypothesis chose itself: ``default``, or ``ci`` when
    it detects a CI system from the environment (as on the project's own CI)."""
    match = re.search(r"SESSION PROFILE (\S+) (\d+)", output)
    assert match, output
    name, max_examples = match.group(1), int(match.group(2))
    assert name in ("default", "ci"), output
    assert max_examples == settings.get_profile(name).max_examples


def test_ci_is_the_default_for_the_property_tests_only(pytester: pytest.Pytester) -> None:
    output = run_conformance_folder(pytester)
    assert "hypothesis profile cri-conformance-ci, derandomized" in output
    assert "PROPERTY EXAMPLES 6" in output
    assert_session_keeps_hypothesis_own_profile(output)


def test_thorough_prints_the_seed_it_chose(pytester: pytest.Pytester) -> None:
    output = run_conformance_folder(
        pytester, "--cri-hypothesis-profile", hypothesis_profiles.THOROUGH
    )
    assert re.search(
        r"hypothesis profile cri-conformance-thorough, seed \d+ \(--hypothesis-seed \d+\)", output
    )
    assert "PROPERTY EXAMPLES 100" in output
    assert_session_keeps_hypothesis_own_profile(output)


def test_hypothesis_own_option_chooses_too(pytester: pytest.Pytester) -> None:
    output = run_conformance_folder(pytester, "--hypothesis-profile", hypothesis_profiles.THOROUGH)
    assert "hypothesis profile cri-conformance-thorough, seed" in output


def test_thorough_draws_a_seed_when_hypothesis_detects_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``CI`` set hypothesis loads its own derandomized profile; ours must not inherit it."""
    monkeypatch.setenv("CI", "true")
    output = run_conformance_folder(
        pytester, "--cri-hypothesis-profile", hypothesis_profiles.THOROUGH
    )
    assert re.search(r"cri-conformance-thorough, seed \d+ \(--hypothesis-seed \d+\)", output)


def test_a_given_seed_is_the_one_printed(pytester: pytest.Pytester) -> None:
    output = run_conformance_folder(
        pytester,
        "--cri-hypothesis-profile",
        hypothesis_profiles.THOROUGH,
        "--hypothesis-seed",
        "4242",
    )
    assert "seed 4242 (--hypothesis-seed 4242)" in output


def test_an_unknown_profile_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFORMANCE_FOLDER)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--cri-hypothesis-profile", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no hypothesis profile named 'nope'" in result.stderr.str()


def test_xdist_workers_use_the_controllers_seed(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFORMANCE_FOLDER)
    pytester.makepyfile(
        test_x="""
import os
from harness.properties import hypothesis_profiles

def record_seed():
    with open(f"seed-{os.getpid()}", "w") as file:
        file.write(str(hypothesis_profiles.chosen().seed))

def test_seed_a():
    record_seed()

def test_seed_b():
    record_seed()
"""
    )
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", "each", "--cri-hypothesis-profile", hypothesis_profiles.THOROUGH
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    header_seed = re.search(r"seed (\d+) \(--hypothesis-seed", result.stdout.str())
    assert header_seed, result.stdout.str()
    seeds = {path.read_text() for path in pytester.path.glob("seed-*")}
    assert seeds == {header_seed.group(1)}
    assert len(list(pytester.path.glob("seed-*"))) == 2, "expected one record per worker"


def test_a_profile_of_that_name_registered_first_is_kept(pytester: pytest.Pytester) -> None:
    """A project that registered a profile under our name keeps its own (``-p`` plugins load
    before entry points)."""
    pytester.makepyfile(
        users_profiles="""
from hypothesis import settings
settings.register_profile("cri-conformance-ci", max_examples=3, derandomize=True)
"""
    )
    pytester.syspathinsert()
    output = run_conformance_folder(pytester, "-p", "users_profiles")
    assert "PROPERTY EXAMPLES 3" in output


def test_the_property_decorator_answers_the_fixture_health_check() -> None:
    decorated = hypothesis_profiles.for_property_tests()(lambda: None)
    chosen: settings = decorated._hypothesis_internal_use_settings  # type: ignore[attr-defined]  # hypothesis keeps it untyped, private
    assert HealthCheck.function_scoped_fixture in chosen.suppress_health_check
    assert chosen.max_examples == settings.get_profile(hypothesis_profiles.CI).max_examples
