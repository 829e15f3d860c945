"""The plugins load in every pytest session of an environment that has the package; another
project's session must run as if they were not there (child pytest processes)."""

from __future__ import annotations

import json

import pytest

UNRELATED = """
import pytest
from hypothesis import given, settings, strategies as st

@pytest.mark.feature("login")  # a marker of the project's own, named like ours
def test_plain():
    assert 1 + 1 == 2

@given(st.integers())
def test_property(n):
    assert isinstance(n, int)

def test_profile_in_force():
    print("SESSION PROFILE", settings.get_current_profile_name(), settings.default.max_examples)
"""
WITHOUT_THE_HARNESS = ("-p", "no:cri_conformance", "-p", "no:cri_conformance_properties")
# A feature-marked test that needs no runtime: its cell makes the run write a matrix.
ONE_CELL = """
import pytest

@pytest.mark.feature("runtime.version")
def test_version():
    pass
"""


def test_an_unrelated_folder_runs_as_without_the_harness(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTAINER_RUNTIME_ENDPOINT", "unix:///nonexistent/runtime.sock")
    pytester.makepyfile(test_unrelated=UNRELATED)
    plain = pytester.runpytest_subprocess("-s", *WITHOUT_THE_HARNESS)
    result = pytester.runpytest_subprocess("-s")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=3)
    profile_line = [line for line in result.outlines if line.startswith("SESSION PROFILE")]
    assert profile_line == [line for line in plain.outlines if line.startswith("SESSION PROFILE")]
    output = result.stdout.str() + result.stderr.str()
    assert "cri-conformance:" not in output
    assert not (pytester.path / "reports").exists()


def test_a_project_keeps_its_own_options_of_our_old_names(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
def pytest_addoption(parser):
    parser.addoption("--report-dir")
    parser.addoption("--runtime-name", action="store_true")
"""
    )
    pytester.makepyfile(
        test_options="""
def test_options(pytestconfig):
    assert pytestconfig.getoption("report_dir") == "mine"
    assert pytestconfig.getoption("runtime_name") is True
"""
    )
    result = pytester.runpytest_subprocess("--report-dir", "mine", "--runtime-name")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()


def test_old_names_still_work_and_say_their_new_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cell=ONE_CELL)
    result = pytester.runpytest_subprocess("--report-dir", "old", "--runtime-name", "col")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    matrix = json.loads((pytester.path / "old" / "matrix.json").read_text())
    assert matrix["runtimes"][0]["name"] == "col"
    output = result.stdout.str()
    assert "--report-dir is now --cri-report-dir" in output
    assert "--runtime-name is now --cri-runtime-name" in output


def test_ini_settings_are_defaults_the_command_line_overrides(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncri_report_dir = from-ini\ncri_runtime_name = ini-column\n")
    pytester.makeconftest("CRI_CONFORMANCE_SUITE = True\n")
    pytester.makepyfile(test_cell=ONE_CELL)
    assert pytester.runpytest_subprocess().ret == pytest.ExitCode.OK
    matrix = json.loads((pytester.path / "from-ini" / "matrix.json").read_text())
    assert matrix["runtimes"][0]["name"] == "ini-column"
    assert (pytester.path / "from-ini" / "junit.xml").exists()
    assert pytester.runpytest_subprocess("--cri-report-dir", "cli").ret == pytest.ExitCode.OK
    assert (pytester.path / "cli" / "matrix.json").exists()


def test_a_bad_ini_value_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncri_timeout = soon\n")
    pytester.makepyfile(test_cell=ONE_CELL)
    result = pytester.runpytest_subprocess("--cri-report-dir", "r")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ini setting cri_timeout = 'soon' is not a number" in result.stderr.str()


def test_tests_asking_for_a_runtime_switch_the_harness_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project's own tests on the harness's fixtures need no flag; under pytest-xdist every
    process must know from the start, so there it asks for one."""
    monkeypatch.setenv("CONTAINER_RUNTIME_ENDPOINT", "unix:///nonexistent/runtime.sock")
    pytester.makepyfile(test_uses_cri="def test_x(cri):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unix:///nonexistent/runtime.sock" in result.stdout.str() + result.stderr.str()
    under_xdist = pytester.runpytest_subprocess("-n", "1", "-p", "no:cacheprovider")
    assert under_xdist.ret != pytest.ExitCode.OK
    assert "give a --cri-* option" in under_xdist.stdout.str()
