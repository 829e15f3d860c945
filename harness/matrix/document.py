"""The matrix document: runs as columns, features as rows, a cell where they meet.

``matrix.json`` is the contract other tools read (docs/matrix-schema.md, matrix.schema.json):
written by every run, merged across runs, compared between runs. The harness writes v2 (rows
carry their level, cells may carry the failure behind a declaration, each run its verdict)
and reads v1 and v2; a v1 row takes its level from the registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from harness.features import SHAPES, Level, registry, requirements
from harness.json_files import read_json, write_json
from harness.matrix.cells import BEST_FIRST, Cell, State
from harness.matrix.verdict import Judged, Verdict, verdict

SCHEMA_ID = "cri-conformance/matrix/v2"
SCHEMAS = {
    SCHEMA_ID: resources.files("harness.matrix") / "matrix.schema.json",
    "cri-conformance/matrix/v1": resources.files("harness.matrix") / "matrix-v1.schema.json",
}
SHAPE_TITLE = {"single": "single-container pods", "multi": "multi-container pods"}


class MatrixError(Exception):
    """A matrix file that cannot be read or merged; the message names the file."""

    exit_code = 2  # the CLI's "your input is wrong", apart from "a cell got worse" (1)


@dataclass(frozen=True)
class RuntimeRun:
    """One column: one run of the suite against one runtime."""

    name: str
    endpoint: str | None
    runtime_name: str | None
    runtime_version: str | None
    api_version: str | None
    profile: str | None
    started: str
    duration_s: float
    run_id: str | None = None
    strict_profile: bool = False
    endpoint_source: str | None = None  # the flag, variable or file that named the endpoint

    @property
    def label(self) -> str:
        """``containerd 1.6.20`` for headers; the column name when the runtime never answered."""
        parts = [part for part in (self.runtime_name, self.runtime_version) if part]
        return " ".join(parts) or self.name


@dataclass
class FeatureRow:
    id: str
    area: str
    shape: str
    title: str
    level: Level
    one_of: str | None = None
    cells: dict[str, Cell] = field(default_factory=dict)

    def runtimes_disagree(self, names: Sequence[str]) -> bool:
        """True when the columns ``names`` do not all hold the same state (not run counts)."""
        states = {cell.state if (cell := self.cells.get(name)) else None for name in names}
        return len(states) > 1


@dataclass
class Matrix:
    runtimes: list[RuntimeRun]
    features: list[FeatureRow]

    def runtime_names(self) -> list[str]:
        return [run.name for run in self.runtimes]

    def totals(self, runtime: str) -> dict[State, int]:
        """How many features of each state the column holds (every state, zeros included)."""
        counts = dict.fromkeys(BEST_FIRST, 0)
        for row in self.features:
            cell = row.cells.get(runtime)
            if cell is not None:
                counts[cell.state] += 1
        return counts

    def verdict(self, runtime: str) -> Verdict:
        """The column's verdict against the required set of this harness' registry."""
        judged = [
            Judged(row.id, row.level, row.one_of, cell.state)
            for row in self.features
            if (cell := row.cells.get(runtime)) is not None
        ]
        features = registry()
        optional = [f.id for f in features.values() if f.level is Level.OPTIONAL]
        return verdict(judged, requirements(features), optional)

    def groups(self) -> list[tuple[str, str, list[FeatureRow]]]:
        """Rows grouped by (area, shape), in document order."""
        grouped: dict[tuple[str, str], list[FeatureRow]] = {}
        for row in self.features:
            grouped.setdefault((row.area, row.shape), []).append(row)
        return [(area, shape, rows) for (area, shape), rows in grouped.items()]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_ID,
            "generated": now_iso(),
            "runtimes": [
                {**asdict(run), "verdict": self.verdict(run.name).to_json()}
                for run in self.runtimes
            ],
            "features": [
                {
                    "id": row.id,
                    "area": row.area,
                    "shape": row.shape,
                    "title": row.title,
                    "level": row.level.value,
                    "one_of": row.one_of,
                    "cells": {name: _cell_json(cell) for name, cell in row.cells.items()},
                }
                for row in self.features
            ],
        }


RUN_COLUMNS = ["runtime", "version", "endpoint", "profile", "started", "duration", "totals"]


def run_summary(matrix: Matrix, run: RuntimeRun) -> list[str]:
    """The cells after the name in a run's line of the runs table (``RUN_COLUMNS``)."""
    version = f"{run.label} ({run.api_version})" if run.api_version else run.label
    totals = ", ".join(
        f"{count} {state.value}" for state, count in matrix.totals(run.name).items() if count
    )
    return [
        version,
        f"{run.endpoint} (from {run.endpoint_source})"
        if run.endpoint and run.endpoint_source
        else run.endpoint or "-",
        run.profile or "none",
        run.started,
        f"{run.duration_s:.1f} s",
        totals or "no cells",
    ]


def ordered(rows: Iterable[FeatureRow]) -> list[FeatureRow]:
    """Areas alphabetically, single before multi; the given order within a group."""
    return sorted(rows, key=lambda row: (row.area, _shape_index(row.shape)))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def save(matrix: Matrix, path: Path) -> None:
    write_json(path, matrix.to_json())


def load(path: Path) -> Matrix:
    return from_json(read_json(path, MatrixError), str(path))


def from_json(data: object, source: str) -> Matrix:
    schema_id = data.get("schema") if isinstance(data, dict) else None
    if isinstance(data, dict) and schema_id not in SCHEMAS:
        raise MatrixError(
            f"{source}: schema {schema_id!r} is not one of {', '.join(SCHEMAS)}; "
            "this cri-conformance reads only those versions"
        )
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(_schema(str(schema_id or SCHEMA_ID))).iter_errors(data)
    )
    if error is not None:
        where = "/".join(str(step) for step in error.absolute_path) or "the top level"
        raise MatrixError(f"{source}: {where}: {error.message}")
    assert isinstance(data, dict)
    known = RuntimeRun.__dataclass_fields__
    runtimes = [
        RuntimeRun(**{key: value for key, value in run.items() if key in known})
        for run in data["runtimes"]
    ]
    features = [
        FeatureRow(
            id=row["id"],
            area=row["area"],
            shape=row["shape"],
            title=row["title"],
            cells={
                name: Cell(
                    State(cell["state"]),
                    cell["reason"],
                    cell["tests"],
                    cell.get("failure", ""),
                    cell.get("intermittent", False),
                )
                for name, cell in row["cells"].items()
            },
            **_level_of(row),
        )
        for row in data["features"]
    ]
    return Matrix(runtimes, features)


def _level_of(row: dict[str, Any]) -> dict[str, Any]:
    """A v2 row says its level; a v1 row takes it from the registry (optional when unknown)."""
    if "level" in row:
        return {"level": Level(row["level"]), "one_of": row.get("one_of")}
    feature = registry().get(row["id"])
    if feature is None:
        return {"level": Level.OPTIONAL, "one_of": None}
    return {"level": feature.level, "one_of": feature.one_of}


def merge(matrices: Sequence[tuple[str, Matrix]]) -> Matrix:
    """One matrix from several (source, matrix) pairs; every column name must be unique.

    A feature in several inputs is one row with every input's cells; its title, area and
    shape come from the last input that has it (the newest registry, when given in order).
    """
    runtimes: list[RuntimeRun] = []
    origin: dict[str, str] = {}
    rows: dict[str, FeatureRow] = {}
    for source, matrix in matrices:
        for run in matrix.runtimes:
            if run.name in origin:
                raise MatrixError(
                    f"{origin[run.name]} and {source} both hold a runtime named {run.name!r}: "
                    "name runs apart with --cri-runtime-name (or cri-conformance run --target "
                    "NAME=...)"
                )
            origin[run.name] = source
            runtimes.append(run)
        for row in matrix.features:
            merged = rows.get(row.id)
            cells = {**merged.cells, **row.cells} if merged else dict(row.cells)
            rows[row.id] = FeatureRow(
                row.id, row.area, row.shape, row.title, row.level, row.one_of, cells
            )
    return Matrix(runtimes, ordered(rows.values()))


def _cell_json(cell: Cell) -> dict[str, Any]:
    written: dict[str, Any] = {
        "state": cell.state.value,
        "reason": cell.reason,
        "tests": cell.tests,
    }
    if cell.failure:
        written["failure"] = cell.failure
    if cell.intermittent:
        written["intermittent"] = True
    return written


@cache
def _schema(schema_id: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMAS[schema_id].read_text())
    return schema


def _shape_index(shape: str) -> int:
    return SHAPES.index(shape) if shape in SHAPES else len(SHAPES)
