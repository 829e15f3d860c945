"""The verdict: requirements counted once, groups met by any member, gaps never conformant."""

from __future__ import annotations

import pytest

from harness.features import Level
from harness.matrix.cells import State
from harness.matrix.verdict import Judged, requirement_state, verdict

REQUIRED, OPTIONAL = Level.REQUIRED, Level.OPTIONAL


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([State.PASS], "pass"),
        ([State.XPASS], "pass"),
        ([State.UNSUPPORTED, State.PASS], "pass"),  # a group: one protocol works
        ([State.FAIL, State.XPASS], "pass"),
        ([State.DEVIATION], "deviation"),
        ([State.UNSUPPORTED, State.DEVIATION], "deviation"),
        ([State.SKIP], "skip"),
        ([State.SKIP, State.UNSUPPORTED], "fail"),
        ([State.UNSUPPORTED, State.UNSUPPORTED], "fail"),  # a group where nothing works
        ([State.FAIL], "fail"),
    ],
)
def test_a_requirement_takes_the_best_of_its_features(states: list[State], expected: str) -> None:
    assert requirement_state(states) == expected


def test_a_fully_passing_run_of_every_requirement_is_conformant() -> None:
    cells = [
        Judged("pod.a", REQUIRED, None, State.PASS),
        Judged("exec.spdy", REQUIRED, "exec", State.PASS),
        Judged("exec.ws", REQUIRED, "exec", State.UNSUPPORTED),
        Judged("pod.metrics", OPTIONAL, None, State.UNSUPPORTED),
    ]
    result = verdict(cells, {"pod.a", "exec"})
    assert result.required == {
        "pass": 2,
        "deviation": 0,
        "fail": 0,
        "skip": 0,
        "not_run": 0,
        "total": 2,
    }
    assert result.optional["unsupported"] == 1
    assert result.conformant
    assert result.lines() == [
        "CRI v1 required: 2/2 pass",
        "optional: 0/1 pass, 1 unsupported",
        "conformant to the required set: yes",
    ]


@pytest.mark.parametrize(
    ("state", "counted"),
    [(State.DEVIATION, "deviation"), (State.SKIP, "skip"), (State.FAIL, "fail")],
)
def test_deviations_skips_and_failures_each_count_against_conformance(
    state: State, counted: str
) -> None:
    cells = [Judged("pod.a", REQUIRED, None, State.PASS), Judged("pod.b", REQUIRED, None, state)]
    result = verdict(cells, {"pod.a", "pod.b"})
    assert result.required[counted] == 1
    assert not result.conformant


def test_a_requirement_the_run_never_reached_is_not_run_and_not_conformant() -> None:
    result = verdict([Judged("pod.a", REQUIRED, None, State.PASS)], {"pod.a", "pod.b", "exec"})
    assert (result.required["pass"], result.required["not_run"]) == (1, 2)
    assert not result.conformant
    assert result.lines()[0] == "CRI v1 required: 1/3 pass, 0 deviations, 0 fail, 2 not run"


def test_an_empty_run_is_not_conformant() -> None:
    assert not verdict([], set()).conformant
