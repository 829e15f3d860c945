"""``bench.md``: the p50 of every operation per target, with its ratio to the first target.

The first target is the reference (give the runtime to beat first): a ratio above 1 means
slower than it. Ratios, not absolute times, are what carries from one machine to another.
"""

from __future__ import annotations

from harness.bench.operations import OPERATIONS
from harness.bench.result import BenchTarget
from harness.bench.stats import ratio


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _ratio(value: float, base: float | None) -> str:
    if base is None:
        return ""
    found = ratio(value, base)
    return f" ({found:.2f}x)" if found is not None else ""


def ordered_operations(targets: list[BenchTarget]) -> list[str]:
    """critest's operations in lifecycle order, then any other operation a result holds."""
    present = {op for target in targets for op in target.operations}
    return [op for op in OPERATIONS if op in present] + sorted(present - set(OPERATIONS))


def render(targets: list[BenchTarget]) -> str:
    first = targets[0]
    names = " | ".join(t.name for t in targets)
    lines = [
        "# CRI bench",
        "",
        f"Latency p50 (p99) per operation; ratios against `{first.name}` ({first.runtime}).",
        "",
        f"| operation | {names} |",
        "|---|" + "---|" * len(targets),
    ]
    for op in ordered_operations(targets):
        base = first.operations[op].summary.p50 if op in first.operations else None
        cells = []
        for target in targets:
            found = target.operations.get(op)
            cells.append(
                "n/a"
                if found is None
                else f"{_ms(found.summary.p50)}{_ratio(found.summary.p50, base)} "
                f"(p99 {_ms(found.summary.p99)})"
            )
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    lines += ["", "## Throughput (pods with a container, started and removed)", ""]
    lines += ["| concurrency | " + names + " |", "|---|" + "---|" * len(targets)]
    base_rates = {point["concurrency"]: point["pods_per_second"] for point in first.throughput}
    for concurrency in sorted(base_rates):
        cells = []
        for target in targets:
            rates = {p["concurrency"]: p["pods_per_second"] for p in target.throughput}
            rate = rates.get(concurrency)
            cells.append("n/a" if rate is None else f"{rate:.2f} pods/s")
        lines.append(f"| {concurrency} | " + " | ".join(cells) + " |")
    lines += ["", "## List calls against object counts (p50)", ""]
    lines += ["| operation | objects | " + names + " |", "|---|---|" + "---|" * len(targets)]
    for op, objects, latency in first.scaling:
        cells = []
        for target in targets:
            found = {(o, n): lat for o, n, lat in target.scaling}.get((op, objects))
            cells.append(
                "n/a"
                if found is None
                else _ms(found.summary.p50) + _ratio(found.summary.p50, latency.summary.p50)
            )
        lines.append(f"| {op} | {objects} | " + " | ".join(cells) + " |")
    notes = [f"- {t.name}: {note}" for t in targets for note in t.notes]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"
