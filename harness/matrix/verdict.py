"""The verdict of one runtime's column: the required set, the optional rest, conformant or not.

A *requirement* is a required feature, or a ``one_of`` group of required alternatives counted
once (Exec over SPDY or over WebSocket). A requirement passes when its feature passes (xpass
included: the runtime did it); a group passes when any member does. A requirement that a
profile declares broken is a *deviation*; one skipped for a missing prerequisite is *skipped*;
one the run did not reach (``-k``, a partial suite) is *not run*. A runtime is conformant to
the required set only when every requirement of the registry ran and passed: deviations,
skips and gaps all count against it, so neither a profile nor a narrow selection can make a
run look conformant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.features import Level
from harness.matrix.cells import State

PASSED = (State.PASS, State.XPASS)
REQUIRED_KEYS = ("pass", "deviation", "fail", "skip", "not_run")
OPTIONAL_KEYS = ("pass", "xpass", "skip", "unsupported", "fail", "not_run")


@dataclass(frozen=True)
class Judged:
    """One cell of the column, with what the verdict needs of its row."""

    feature: str
    level: Level
    one_of: str | None
    state: State

    @property
    def requirement(self) -> str | None:
        return (self.one_of or self.feature) if self.level is Level.REQUIRED else None


@dataclass(frozen=True)
class Verdict:
    required: dict[str, int]  # REQUIRED_KEYS -> count, plus "total"
    optional: dict[str, int]  # OPTIONAL_KEYS -> count, plus "total"

    @property
    def conformant(self) -> bool:
        return self.required["total"] > 0 and self.required["pass"] == self.required["total"]

    def lines(self) -> list[str]:
        """The verdict as three lines of text, for every report."""
        req, opt = self.required, self.optional
        required = f"CRI v1 required: {req['pass']}/{req['total']} pass"
        if req["pass"] != req["total"]:
            required += f", {req['deviation']} deviations, {req['fail']} fail"
            required += "".join(
                f", {req[key]} {key.replace('_', ' ')}" for key in ("skip", "not_run") if req[key]
            )
        optional = f"optional: {opt['pass'] + opt['xpass']}/{opt['total']} pass"
        optional += "".join(
            f", {opt[key]} {key.replace('_', ' ')}" for key in OPTIONAL_KEYS[2:] if opt[key]
        )
        answer = "yes" if self.conformant else "no"
        return [required, optional, f"conformant to the required set: {answer}"]

    def to_json(self) -> dict[str, Any]:
        return {
            "required": dict(self.required),
            "optional": dict(self.optional),
            "conformant": self.conformant,
        }


def requirement_state(states: Iterable[State]) -> str:
    """One requirement from the states of its features (one, or a group's members)."""
    found = set(states)
    if found & set(PASSED):
        return "pass"
    if State.DEVIATION in found:
        return "deviation"
    if found and found <= {State.SKIP}:
        return "skip"
    return "fail"


def verdict(
    cells: Iterable[Judged],
    registry_requirements: Iterable[str],
    registry_optional: Iterable[str] = (),
) -> Verdict:
    """The verdict of one column; the registry's requirements and optional features say what
    a full run covers (an optional feature left out, by a selection or by a profile's
    ``not_run``, is counted as not run too)."""
    by_requirement: dict[str, list[State]] = {}
    optional: Counter[str] = Counter()
    optional_run: set[str] = set()
    for cell in cells:
        requirement = cell.requirement
        if requirement is not None:
            by_requirement.setdefault(requirement, []).append(cell.state)
        else:
            optional[cell.state.value] += 1
            optional_run.add(cell.feature)
    optional["not_run"] = len(set(registry_optional) - optional_run)
    required: Counter[str] = Counter(
        requirement_state(states) for states in by_requirement.values()
    )
    required["not_run"] = len(set(registry_requirements) - set(by_requirement))
    required_counts = {key: required[key] for key in REQUIRED_KEYS}
    required_counts["total"] = sum(required_counts.values())
    optional_counts = {key: optional[key] for key in OPTIONAL_KEYS}
    optional_counts["total"] = sum(optional.values())
    return Verdict(required_counts, optional_counts)
