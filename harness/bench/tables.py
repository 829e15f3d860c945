"""What the reports show, as tables of text: built once, rendered as Markdown and as HTML.

The first target is the reference (give the runtime to beat first): each cell carries its ratio
to the reference's value, above 1 meaning slower. Ratios, not absolute times, are what carries
from one machine to another.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.bench.operations import OPERATIONS
from harness.bench.result import BenchTarget, Latency
from harness.bench.stats import ratio


@dataclass(frozen=True)
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _with_ratio(text: str, value: float, base: float | None) -> str:
    found = ratio(value, base) if base is not None else None
    return f"{text} ({found:.2f}x)" if found is not None else text


def ordered_operations(targets: list[BenchTarget]) -> list[str]:
    """critest's operations in lifecycle order, then any other operation a result holds."""
    present = {op for target in targets for op in target.operations}
    return [op for op in OPERATIONS if op in present] + sorted(present - set(OPERATIONS))


def _latency_cell(found: Latency | None, base: Latency | None) -> str:
    if found is None:
        return "n/a"
    p50 = found.summary.p50
    cell = _with_ratio(_ms(p50), p50, base.summary.p50 if base else None)
    return f"{cell}, p99 {_ms(found.summary.p99)}"


def latency(targets: list[BenchTarget]) -> Table:
    first = targets[0]
    rows = [
        [op] + [_latency_cell(t.operations.get(op), first.operations.get(op)) for t in targets]
        for op in ordered_operations(targets)
    ]
    title = f"Latency p50 per operation, ratio against {first.name} ({first.runtime}), and p99"
    return Table(title, ["operation", *(t.name for t in targets)], rows)


def throughput(targets: list[BenchTarget]) -> Table:
    rates = [{p["concurrency"]: p["pods_per_second"] for p in t.throughput} for t in targets]
    rows = []
    for concurrency in sorted({c for rate in rates for c in rate}):
        base = rates[0].get(concurrency)
        cells = [
            "n/a" if concurrency not in rate
            else f"{rate[concurrency]:.2f} pods/s" + (
                f" ({rate[concurrency] / base:.2f}x)" if base else ""
            )
            for rate in rates
        ]  # fmt: skip
        rows.append([str(concurrency), *cells])
    title = "Throughput: pods with a container, started and removed (higher is better)"
    return Table(title, ["concurrency", *(t.name for t in targets)], rows)


def scaling(targets: list[BenchTarget]) -> Table:
    points = [{(op, n): lat for op, n, lat in t.scaling} for t in targets]
    rows = [
        [op, str(n)]
        + [
            "n/a"
            if (op, n) not in found
            else _with_ratio(
                _ms(found[op, n].summary.p50), found[op, n].summary.p50, first.summary.p50
            )
            for found in points
        ]
        for (op, n), first in points[0].items()
    ]
    title = "List calls against the number of objects (pods with a container; images), p50"
    return Table(title, ["operation", "objects", *(t.name for t in targets)], rows)


def tables(targets: list[BenchTarget]) -> list[Table]:
    return [latency(targets), throughput(targets), scaling(targets)]


def notes(targets: list[BenchTarget]) -> list[str]:
    return [f"{target.name}: {note}" for target in targets for note in target.notes]
