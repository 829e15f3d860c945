"""The order of cell states and the worst-outcome rule behind every cell."""

from __future__ import annotations

import pytest

from harness.matrix.cells import BEST_FIRST, Outcome, State, cell_of, clip, worst


def test_states_rank_pass_xpass_skip_unsupported_deviation_fail() -> None:
    ranks = [state.rank for state in BEST_FIRST]
    assert ranks == sorted(ranks, reverse=True)
    assert [state.value for state in BEST_FIRST] == [
        "pass",
        "xpass",
        "skip",
        "unsupported",
        "deviation",
        "fail",
    ]
    assert State.FAIL.rank == 0


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([State.PASS, State.FAIL, State.PASS], State.FAIL),
        ([State.PASS, State.SKIP], State.SKIP),
        ([State.SKIP, State.UNSUPPORTED], State.UNSUPPORTED),
        ([State.XPASS, State.UNSUPPORTED], State.UNSUPPORTED),
        ([State.PASS, State.XPASS], State.XPASS),
        ([State.UNSUPPORTED, State.FAIL], State.FAIL),
        ([State.UNSUPPORTED, State.DEVIATION], State.DEVIATION),
        ([State.DEVIATION, State.FAIL], State.FAIL),
        ([State.PASS], State.PASS),
    ],
)
def test_the_worst_outcome_wins(states: list[State], expected: State) -> None:
    assert worst(Outcome(state) for state in states).state is expected


def test_worst_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no outcomes"):
        worst([])


def test_a_feature_with_several_tests_takes_the_worst_and_names_the_tests() -> None:
    cell = cell_of(
        {
            "suites/test_pod.py::test_a": Outcome(State.PASS),
            "suites/test_pod.py::test_b[x]": Outcome(State.FAIL, "status says 2, expected 1"),
            "suites/test_pod.py::test_c": Outcome(State.SKIP, "no AppArmor"),
            "suites/test_pod.py::test_d": Outcome(State.FAIL, "pod IP empty"),
        }
    )
    assert cell.state is State.FAIL
    assert cell.tests == 4
    assert cell.reason == "test_b[x]: status says 2, expected 1; test_d: pod IP empty"


def test_one_test_keeps_its_reason_as_it_is_and_equal_reasons_appear_once() -> None:
    assert cell_of({"t.py::a": Outcome(State.SKIP, "no AppArmor")}).reason == "no AppArmor"
    twice = cell_of(
        {"t.py::a": Outcome(State.UNSUPPORTED, "x"), "t.py::a2": Outcome(State.UNSUPPORTED, "x")}
    )
    assert twice.reason == "a: x; a2: x"
    assert cell_of({"t.py::a": Outcome(State.PASS)}).reason == ""


def test_reasons_are_one_clipped_line() -> None:
    assert clip("a\n  b\tc") == "a b c"
    long = clip("x" * 1000, limit=10)
    assert len(long) == 10
    assert long.endswith("…")
