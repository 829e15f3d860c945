"""The bench's one machine-readable output: ``bench.json``, schema ``cri-conformance/bench/v1``.

The reports (Markdown, HTML) and ``bench compare`` read only this document, never the runner's
objects, so a result written on one machine can be compared or re-rendered on another. The raw
samples are kept next to their summaries: the CDF plots need them.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema

from harness.bench.stats import Summary
from harness.json_files import read_json, write_json

if TYPE_CHECKING:  # reading a result needs neither the runner nor its progress bar
    from harness.bench.runner import Settings, TargetResult

SCHEMA_ID = "cri-conformance/bench/v1"
SCHEMA = resources.files("harness.bench") / "bench.schema.json"


class ResultError(Exception):
    """A bench.json that cannot be read; the message names the file."""

    exit_code = 2


@dataclass(frozen=True)
class Latency:
    summary: Summary
    samples: list[float]


@dataclass(frozen=True)
class BenchTarget:
    """One target as the document holds it."""

    name: str
    runtime: str
    operations: dict[str, Latency]
    throughput: list[dict[str, float]]
    scaling: list[tuple[str, int, Latency]]
    notes: list[str]


def _latency(samples: list[float]) -> dict[str, Any]:
    return {**dataclasses.asdict(Summary.of(samples)), "samples": samples}


def to_json(run_id: str, settings: Settings, results: list[TargetResult]) -> dict[str, Any]:
    return {
        "schema": SCHEMA_ID,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run_id": run_id,
        "settings": dataclasses.asdict(settings),
        "targets": [
            {
                "name": result.name,
                "endpoint": result.endpoint,
                "runtime": result.runtime,
                "operations": {op: _latency(s) for op, s in result.latency.items() if s},
                "throughput": [
                    {**dataclasses.asdict(point), "pods_per_second": point.pods / point.seconds}
                    for point in result.throughput
                ],
                "scaling": [
                    {"operation": p.operation, "objects": p.objects, "latency": _latency(p.samples)}
                    for p in result.scaling
                ],
                "notes": result.notes,
            }
            for result in results
        ],
    }


def validate(data: object, source: str) -> dict[str, Any]:
    """``data`` when it is a bench result of this schema, else a ResultError saying where."""
    schema = read_json(Path(str(SCHEMA)), ResultError)
    assert isinstance(schema, dict)
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(data)
    )
    if error is not None:
        where = "/".join(str(step) for step in error.absolute_path) or "the top level"
        raise ResultError(f"{source}: {where}: {error.message}")
    assert isinstance(data, dict)
    return data


def _read_latency(data: dict[str, Any]) -> Latency:
    fields = {key: data[key] for key in ("count", "p50", "p90", "p99", "max")}
    return Latency(Summary(**fields), list(data["samples"]))


def targets_of(data: dict[str, Any]) -> list[BenchTarget]:
    """The targets of a validated document, in the order they were benched."""
    return [
        BenchTarget(
            name=target["name"],
            runtime=target["runtime"],
            operations={op: _read_latency(value) for op, value in target["operations"].items()},
            throughput=target["throughput"],
            scaling=[
                (point["operation"], point["objects"], _read_latency(point["latency"]))
                for point in target["scaling"]
            ],
            notes=target.get("notes", []),
        )
        for target in data["targets"]
    ]


def load(path: Path) -> list[BenchTarget]:
    return targets_of(validate(read_json(path, ResultError), str(path)))


def write(path: Path, data: dict[str, Any]) -> Path:
    validate(data, "the bench result")  # a writer bug shows here, not in a reader
    return write_json(path, data)
