"""report compare: what changed, and an exit code CI can gate on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main
from harness.features import Level
from harness.matrix.cells import Cell, State
from harness.matrix.compare import Change, compare
from harness.matrix.document import FeatureRow, Matrix, RuntimeRun, save

MakeRun = Callable[..., RuntimeRun]


def matrix(make_run: MakeRun, columns: dict[str, dict[str, State]]) -> Matrix:
    """``{runtime: {feature: state}}`` -> a matrix with those cells."""
    rows: dict[str, FeatureRow] = {}
    for runtime, cells in columns.items():
        for feature, state in cells.items():
            row = rows.setdefault(
                feature, FeatureRow(feature, "pod", "single", feature, Level.REQUIRED)
            )
            row.cells[runtime] = Cell(state, f"because {state.value}", 1)
    return Matrix([make_run(name) for name in columns], list(rows.values()))


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        (State.PASS, State.FAIL, Change.WORSE),
        (State.PASS, State.XPASS, Change.WORSE),
        (State.PASS, State.SKIP, Change.WORSE),
        (State.SKIP, State.UNSUPPORTED, Change.WORSE),
        (State.UNSUPPORTED, State.DEVIATION, Change.WORSE),
        (State.DEVIATION, State.FAIL, Change.WORSE),
        (State.UNSUPPORTED, State.FAIL, Change.WORSE),
        (State.FAIL, State.DEVIATION, Change.BETTER),
        (State.FAIL, State.UNSUPPORTED, Change.BETTER),
        (State.UNSUPPORTED, State.SKIP, Change.BETTER),
        (State.XPASS, State.PASS, Change.BETTER),
        (State.FAIL, State.PASS, Change.BETTER),
    ],
)
def test_a_move_down_the_order_is_worse(
    make_run: MakeRun, old: State, new: State, kind: Change
) -> None:
    result = compare(
        matrix(make_run, {"c": {"pod.x": old}}), matrix(make_run, {"c": {"pod.x": new}})
    )
    assert [change.kind for change in result.changes] == [kind]
    assert result.got_worse() is (kind is Change.WORSE)


def test_unchanged_new_and_gone_cells(make_run: MakeRun) -> None:
    old = matrix(make_run, {"c": {"pod.a": State.PASS, "pod.b": State.PASS}})
    new = matrix(make_run, {"c": {"pod.a": State.PASS, "pod.c": State.FAIL}})
    result = compare(old, new)
    assert {(c.feature, c.kind) for c in result.changes} == {
        ("pod.b", Change.GONE),
        ("pod.c", Change.NEW),
    }
    assert result.unchanged == 1
    assert result.got_worse() is True
    assert (
        result.got_worse(allow_missing=True) is False
    )  # a new failing feature is not a regression


def test_columns_pair_by_name_and_a_missing_runtime_is_gone(make_run: MakeRun) -> None:
    old = matrix(make_run, {"a": {"pod.x": State.PASS}, "b": {"pod.x": State.PASS}})
    new = matrix(make_run, {"b": {"pod.x": State.PASS}, "c": {"pod.x": State.SKIP}})
    result = compare(old, new)
    assert {(c.runtime, c.kind) for c in result.changes} == {("a", Change.GONE), ("c", Change.NEW)}
    assert "runtime 'a' is missing from the new matrix" in result.notes


def test_two_single_column_matrices_are_paired_whatever_their_names(make_run: MakeRun) -> None:
    old = matrix(make_run, {"containerd": {"pod.x": State.PASS}})
    new = matrix(make_run, {"containerd-next": {"pod.x": State.FAIL}})
    result = compare(old, new)
    assert [c.kind for c in result.changes] == [Change.WORSE]
    assert result.notes == ["comparing runtime 'containerd' (old) with 'containerd-next' (new)"]


def write(tmp_path: Path, name: str, m: Matrix) -> str:
    path = tmp_path / name
    save(m, path)
    return str(path)


def test_the_cli_exits_1_when_a_cell_got_worse_and_says_which(
    make_run: MakeRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write(
        tmp_path, "old.json", matrix(make_run, {"c": {"pod.x": State.PASS, "pod.y": State.FAIL}})
    )
    new = write(
        tmp_path, "new.json", matrix(make_run, {"c": {"pod.x": State.FAIL, "pod.y": State.PASS}})
    )
    assert main(["report", "compare", old, new]) == 1
    out = capsys.readouterr().out
    assert "worse   c  pod.x: pass -> fail: because fail" in out
    assert "better  c  pod.y: fail -> pass" in out
    assert "1 worse, 1 better, 0 new, 0 gone, 0 flip; 0 unchanged" in out
    assert main(["report", "compare", new, old]) == 1  # pod.x got better, pod.y worse
    assert main(["report", "compare", old, old]) == 0


def test_the_cli_allows_missing_cells_when_asked(make_run: MakeRun, tmp_path: Path) -> None:
    old = write(
        tmp_path, "old.json", matrix(make_run, {"c": {"pod.x": State.PASS, "pod.y": State.PASS}})
    )
    new = write(tmp_path, "new.json", matrix(make_run, {"c": {"pod.x": State.PASS}}))
    assert main(["report", "compare", old, new]) == 1
    assert main(["report", "compare", old, new, "--allow-missing"]) == 0


def test_the_cli_exits_2_on_an_unreadable_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "compare", str(tmp_path / "no.json"), str(tmp_path / "no.json")]) == 2
    assert "no.json: cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        (State.PASS, State.DEVIATION, Change.INTERMITTENT),
        (State.DEVIATION, State.PASS, Change.INTERMITTENT),
        (State.PASS, State.FAIL, Change.WORSE),  # a failure the declaration did not expect
    ],
)
def test_a_declared_race_flipping_between_pass_and_its_state_is_not_worse(
    make_run: MakeRun, old: State, new: State, kind: Change
) -> None:
    before = matrix(make_run, {"c": {"pod.x": old}})
    after = matrix(make_run, {"c": {"pod.x": new}})
    cell = after.features[0].cells["c"]
    after.features[0].cells["c"] = Cell(cell.state, cell.reason, 1, intermittent=new != State.FAIL)
    result = compare(before, after)
    assert [change.kind for change in result.changes] == [kind]
    assert result.got_worse() is (kind is Change.WORSE)
