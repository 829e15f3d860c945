"""Cell states, their order, and how the outcomes of several tests make one cell.

The order (best first) is ``pass > xpass > skip > unsupported > deviation > fail``:

- ``xpass`` ranks below ``pass``: the runtime did the thing, but the run declared it could not,
  so a move from ``pass`` to ``xpass`` means somebody declared a working feature unsupported.
- ``skip`` ranks above ``unsupported``: a skip says the environment lacked a prerequisite and
  nothing about the runtime, while ``unsupported`` says the runtime lacks the feature. It still
  ranks below ``xpass`` and ``pass``: a check that stopped running hides whatever it checked.
- ``deviation`` ranks below ``unsupported``: the runtime breaks a *required* rule. Its profile
  declares that, with the failure it expects, so it is no regression, but it counts against
  conformance where an unsupported optional feature does not.
- ``fail`` is worst: the runtime got it wrong and nobody declared that.

A feature backed by several tests takes its worst test; a test takes its worst phase
(setup, call, teardown).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    PASS = "pass"
    XPASS = "xpass"
    SKIP = "skip"
    UNSUPPORTED = "unsupported"
    DEVIATION = "deviation"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        """Higher is better; ``fail`` is 0."""
        return len(BEST_FIRST) - 1 - BEST_FIRST.index(self)


BEST_FIRST = (
    State.PASS,
    State.XPASS,
    State.SKIP,
    State.UNSUPPORTED,
    State.DEVIATION,
    State.FAIL,
)
MEANING = {
    State.PASS: "the runtime did it",
    State.XPASS: "declared unsupported by the runtime profile, yet it passed: update the profile",
    State.SKIP: "the environment lacks a prerequisite; the runtime was not checked",
    State.UNSUPPORTED: (
        "an optional feature: the RPC under test answered UNIMPLEMENTED, or the runtime's "
        "profile declares it with the failure it expects"
    ),
    State.DEVIATION: (
        "a required feature the runtime's profile declares broken, with the rule it breaks "
        "and the failure it expects: counts against conformance"
    ),
    State.FAIL: "the runtime got it wrong, and nothing declared that: a regression",
}
MAX_REASON = 400


@dataclass(frozen=True)
class Outcome:
    """What one test (or one phase of it) said about its feature.

    ``reason`` says why the state (the runtime's refusal, the profile's declaration, the
    failure); ``failure`` keeps what actually failed when the reason is a declaration, so a
    reader can check the declaration against it. ``intermittent`` marks an outcome a profile
    declares as a race: its cell may be a pass one run and the declared state the next.
    """

    state: State
    reason: str = ""
    failure: str = ""
    intermittent: bool = False


@dataclass(frozen=True)
class Cell:
    """One feature on one runtime: the worst outcome of ``tests`` test cases."""

    state: State
    reason: str
    tests: int
    failure: str = ""
    intermittent: bool = False


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """The first of the lowest-ranked outcomes."""
    found: Outcome | None = None
    for outcome in outcomes:
        if found is None or outcome.state.rank < found.state.rank:
            found = outcome
    if found is None:
        raise ValueError("worst() of no outcomes")
    return found


def cell_of(tests: dict[str, Outcome]) -> Cell:
    """The cell for a feature from its tests' outcomes (test name -> outcome).

    The reason collects the distinct reasons of the tests in the worst state; with several
    tests each reason names its test, so the hover text says which case it was.
    """
    state = worst(tests.values()).state
    in_state = {name: outcome for name, outcome in tests.items() if outcome.state is state}
    return Cell(
        state,
        _joined(in_state, "reason", len(tests) > 1),
        len(tests),
        _joined(in_state, "failure", len(tests) > 1),
        any(outcome.intermittent for outcome in tests.values()),
    )


def _joined(outcomes: dict[str, Outcome], field: str, name_tests: bool) -> str:
    texts: list[str] = []
    for name, outcome in outcomes.items():
        text = getattr(outcome, field)
        if text and name_tests:
            text = f"{short_name(name)}: {text}"
        if text and text not in texts:
            texts.append(text)
    return clip("; ".join(texts))


def short_name(nodeid: str) -> str:
    """``suites/test_pod.py::test_x[a]`` -> ``test_x[a]``."""
    return nodeid.rsplit("::", 1)[-1]


def clip(text: str, limit: int = MAX_REASON) -> str:
    """One line of at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
