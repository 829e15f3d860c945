"""``matrix.md``: the matrix as GitHub-flavoured Markdown, for pull requests and job summaries.

It opens with each runtime's verdict. Markdown has no hover text, so the reasons of every cell
other than ``pass`` (and what failed behind a declaration) follow the tables as notes.
"""

from __future__ import annotations

from harness.matrix.cells import BEST_FIRST, MEANING, Cell, State
from harness.matrix.document import RUN_COLUMNS, SHAPE_TITLE, Matrix, run_summary

SYMBOL = {
    State.PASS: "✅",
    State.XPASS: "⚠️",
    State.SKIP: "⏭️",
    State.UNSUPPORTED: "🚫",
    State.DEVIATION: "🔶",
    State.FAIL: "❌",
}
NOT_RUN = "—"


def render_markdown(matrix: Matrix) -> str:
    names = matrix.runtime_names()
    lines = ["# CRI compatibility matrix", "", *_verdicts(matrix), ""]
    lines += [*_runs(matrix), "", *_legend(), ""]
    for area, shape, rows in matrix.groups():
        lines += [f"## {area}: {SHAPE_TITLE.get(shape, shape)}", ""]
        lines += _table_head(["feature", *names])
        for row in rows:
            cells = [_cell(row.cells.get(name)) for name in names]
            lines.append(_row([f"`{row.id}` {_escape(row.title)}", *cells]))
        lines.append("")
    lines += ["## Totals", "", *_table_head(["state", *names])]
    totals = {name: matrix.totals(name) for name in names}
    for state in BEST_FIRST:
        lines.append(
            _row([f"{SYMBOL[state]} {state.value}", *(str(totals[n][state]) for n in names)])
        )
    lines.append(_row(["features", *(str(sum(totals[n].values())) for n in names)]))
    notes = [
        f"- `{row.id}` on **{name}**: {_cell(cell)}: {_escape(_explained(cell))}"
        for row in matrix.features
        for name, cell in row.cells.items()
        if cell.state is not State.PASS and cell.reason
    ]
    if notes:
        lines += ["", "## Reasons", "", *notes]
    return "\n".join(lines) + "\n"


def _verdicts(matrix: Matrix) -> list[str]:
    return [
        f"- **{_escape(name)}**: " + " · ".join(matrix.verdict(name).lines())
        for name in matrix.runtime_names()
    ]


def _explained(cell: Cell) -> str:
    return f"{cell.reason} (failed with: {cell.failure})" if cell.failure else cell.reason


def _runs(matrix: Matrix) -> list[str]:
    lines = _table_head(RUN_COLUMNS)
    for run in matrix.runtimes:
        lines.append(_row([f"**{_escape(run.name)}**", *map(_escape, run_summary(matrix, run))]))
    return lines


def _legend() -> list[str]:
    return [f"{SYMBOL[state]} **{state.value}**: {MEANING[state]}  " for state in BEST_FIRST]


def _cell(cell: Cell | None) -> str:
    return f"{SYMBOL[cell.state]} {cell.state.value}" if cell else NOT_RUN


def _table_head(headers: list[str]) -> list[str]:
    return [_row([_escape(header) for header in headers]), _row(["---"] * len(headers))]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _escape(text: str) -> str:
    """Keep a table cell one cell: no pipes, no line breaks."""
    return " ".join(text.split()).replace("|", "\\|")
