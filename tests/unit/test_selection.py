"""--cri-feature and --cri-area choose tests by feature id and area, with globs."""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.features import registry
from harness.pytest_plugin.selection import Selection, SelectionError

TWO_AREAS = """
import pytest

@pytest.mark.feature("runtime.version")
def test_version():
    pass

@pytest.mark.feature("pod.lifecycle")
def test_pod():
    pass

def test_without_a_feature():
    pass
"""


def ids(selection: Selection) -> list[str]:
    return [feature.id for feature in selection.chosen(registry())]


def test_nothing_chosen_means_everything() -> None:
    assert ids(Selection.parse(None, "")) == list(registry())


def test_feature_globs_and_areas_add_up() -> None:
    chosen = ids(Selection.parse("pod.list*, image.pull.by-tag", "runtime"))
    assert "image.pull.by-tag" in chosen
    assert {f for f in chosen if f.startswith("pod.")} == {
        f for f in registry() if f.startswith("pod.list")
    }
    assert {f for f in registry() if f.startswith("runtime.")} <= set(chosen)
    assert not [f for f in chosen if f.startswith(("container.", "multi."))]


@pytest.mark.parametrize(
    ("features", "areas", "complaint"), [("pod.nope*", None, "feature"), (None, "pods", "area")]
)
def test_a_pattern_matching_nothing_is_refused(
    features: str | None, areas: str | None, complaint: str
) -> None:
    with pytest.raises(SelectionError, match=f"no {complaint} matches"):
        Selection.parse(features, areas).chosen(registry())


def test_the_features_command_lists_id_level_area_shape_title(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["features", "--area", "runtime"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "LEVEL", "AREA", "SHAPE", "TITLE"]
    version = next(line for line in lines if line.startswith("runtime.version "))
    assert version.split()[:4] == ["runtime.version", "required", "runtime", "single"]
    assert len(lines) == 1 + sum(1 for f in registry().values() if f.area == "runtime")
    assert main(["features", "--feature", "nope"]) == 2


def test_the_suite_runs_only_the_chosen_tests(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("CRI_CONFORMANCE_SUITE = True\n")
    pytester.makepyfile(test_two=TWO_AREAS)
    result = pytester.runpytest_subprocess("--cri-area", "run*", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["*test_version PASSED*"])
    refused = pytester.runpytest_subprocess("--cri-feature", "pod.nope")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    assert "no feature matches 'pod.nope'" in refused.stdout.str() + refused.stderr.str()


CRASHES_ON_CRUN = """
name: crashes
description: a runtime that a pod test takes down on crun
not_run:
  pod.lifecycle:
    reason: the daemon panics
    handlers: [crun]
"""


def test_a_profiles_not_run_features_are_left_out_on_their_handlers_only(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest("CRI_CONFORMANCE_SUITE = True\n")
    pytester.makepyfile(test_two=TWO_AREAS)
    profile = pytester.makefile(".yaml", crashes=CRASHES_ON_CRUN)
    options = ["--cri-runtime-profile", str(profile), "-p", "no:cacheprovider", "-v"]
    on_crun = pytester.runpytest_subprocess(*options, "--cri-runtime-handler", "crun")
    on_crun.assert_outcomes(passed=2, deselected=1)
    on_crun.stdout.fnmatch_lines(
        ["*not run, as profile crashes says: pod.lifecycle: the daemon panics*"]
    )
    assert "test_pod PASSED" not in on_crun.stdout.str()
    on_runc = pytester.runpytest_subprocess(*options, "--cri-runtime-handler", "runc")
    on_runc.assert_outcomes(passed=3)
    assert "not run, as profile" not in on_runc.stdout.str()
