"""``bench compare``: the CI gate. An operation whose p50 got more than a given percentage
slower than in a baseline fails the comparison.

Only p50 gates: tail percentiles of a few samples on a shared CI machine move with the load of
its neighbours, the median much less. Targets are matched by name, operations by RPC name.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from harness.bench.result import BenchTarget


class UnknownOperation(ValueError):
    """--operation names an operation the baseline does not hold."""


@dataclass(frozen=True)
class Change:
    target: str
    operation: str
    baseline: float
    current: float

    @property
    def percent(self) -> float:
        return (self.current / self.baseline - 1) * 100 if self.baseline > 0 else 0.0

    def describe(self) -> str:
        return (
            f"{self.target} {self.operation}: p50 {self.baseline * 1000:.2f} ms -> "
            f"{self.current * 1000:.2f} ms ({self.percent:+.0f}%)"
        )


@dataclass(frozen=True)
class Comparison:
    changes: list[Change]
    missing: list[str]  # "target operation" in the baseline but not the result
    max_slowdown: float

    @property
    def slower(self) -> list[Change]:
        return [change for change in self.changes if change.percent > self.max_slowdown]


def compare(
    baseline: list[BenchTarget],
    current: list[BenchTarget],
    max_slowdown: float,
    operations: Collection[str] = (),
) -> Comparison:
    """Every (target, operation) of the baseline, or only ``operations`` when given.

    An operation the baseline never measured is refused (UnknownOperation): gating on a
    misspelt name would compare nothing and pass.
    """
    measured = {op for target in baseline for op in target.operations}
    unknown = sorted(set(operations) - measured)
    if unknown:
        raise UnknownOperation(
            f"the baseline has no operation {', '.join(unknown)}; "
            f"it has {', '.join(sorted(measured))}"
        )
    now = {target.name: target for target in current}
    changes, missing = [], []
    for old in baseline:
        for op, latency in old.operations.items():
            if operations and op not in operations:
                continue
            found = now.get(old.name)
            if found is None or op not in found.operations:
                missing.append(f"{old.name} {op}")
                continue
            new = found.operations[op].summary.p50
            changes.append(Change(old.name, op, latency.summary.p50, new))
    return Comparison(changes, missing, max_slowdown)
