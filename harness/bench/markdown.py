"""``bench.md``: the bench's tables (``tables``) as GitHub Markdown, then the notes."""

from __future__ import annotations

from harness.bench.result import BenchTarget
from harness.bench.tables import Table, notes, tables


def _table(table: Table) -> list[str]:
    return [
        f"## {table.title}",
        "",
        "| " + " | ".join(table.header) + " |",
        "|" + "---|" * len(table.header),
        *("| " + " | ".join(row) + " |" for row in table.rows),
        "",
    ]


def render(targets: list[BenchTarget]) -> str:
    lines = ["# CRI bench", ""]
    for table in tables(targets):
        lines += _table(table)
    if found := notes(targets):
        lines += ["## Notes", "", *(f"- {note}" for note in found), ""]
    return "\n".join(lines)
