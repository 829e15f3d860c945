"""matrix.json: it round-trips, a foreign file is refused, runs merge into one matrix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main
from harness.features import Level, registry
from harness.matrix.cells import Cell, State
from harness.matrix.document import (
    SCHEMA_ID,
    FeatureRow,
    Matrix,
    MatrixError,
    RuntimeRun,
    load,
    merge,
    save,
)

MakeRun = Callable[..., RuntimeRun]


def one_run(make_run: MakeRun, name: str, cells: dict[str, State]) -> Matrix:
    rows = [
        FeatureRow(
            feature,
            feature.split(".")[0],
            "single",
            f"title of {feature}",
            Level.REQUIRED,
            None,
            {name: Cell(state, "" if state is State.PASS else f"why {state}", 1)},
        )
        for feature, state in cells.items()
    ]
    return Matrix([make_run(name)], rows)


def test_a_matrix_round_trips_through_json_keeping_the_contract_keys(
    two_runtime_matrix: Matrix, tmp_path: Path
) -> None:
    path = tmp_path / "matrix.json"
    save(two_runtime_matrix, path)
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA_ID
    assert set(data["runtimes"][0]) >= {
        "name",
        "endpoint",
        "runtime_name",
        "runtime_version",
        "api_version",
        "profile",
        "started",
        "duration_s",
    }
    assert set(data["features"][0]) >= {"id", "area", "shape", "title", "level", "cells"}
    assert data["features"][1]["cells"]["shim"] == {
        "state": "fail",
        "reason": "test_dns: nameserver 10.0.0.1 missing <resolv.conf>",
        "tests": 2,
    }
    assert load(path) == two_runtime_matrix


def test_a_declared_cell_keeps_the_failure_behind_it(
    two_runtime_matrix: Matrix, tmp_path: Path
) -> None:
    path = tmp_path / "matrix.json"
    save(two_runtime_matrix, path)
    row = next(r for r in json.loads(path.read_text())["features"] if r["id"] == "pod.localhost")
    assert row["level"] == "required"
    assert row["cells"]["shim"]["state"] == "deviation"
    assert (
        row["cells"]["shim"]["failure"] == "CreateContainer failed with UNIMPLEMENTED: one per pod"
    )


def test_each_run_carries_its_verdict(two_runtime_matrix: Matrix, tmp_path: Path) -> None:
    path = tmp_path / "matrix.json"
    save(two_runtime_matrix, path)
    verdicts = {run["name"]: run["verdict"] for run in json.loads(path.read_text())["runtimes"]}
    assert verdicts["shim"]["required"]["deviation"] == 1
    assert verdicts["shim"]["required"]["fail"] == 1
    assert verdicts["shim"]["conformant"] is False
    optional = verdicts["containerd"]["optional"]
    ran = {row.id for row in two_runtime_matrix.features if "containerd" in row.cells}
    not_run = len({f.id for f in registry().values() if f.level is Level.OPTIONAL} - ran)
    assert optional == {
        "total": 2 + not_run,
        "pass": 0,
        "xpass": 0,
        "skip": 1,
        "unsupported": 1,
        "fail": 0,
        "not_run": not_run,
    }


def test_a_v1_file_is_read_with_levels_from_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "matrix.json"
    cell = {"state": "unsupported", "reason": "UNIMPLEMENTED", "tests": 1}
    path.write_text(
        json.dumps(
            {
                "schema": "cri-conformance/matrix/v1",
                "runtimes": [],
                "features": [
                    {
                        "id": fid,
                        "area": fid.split(".")[0],
                        "shape": "single",
                        "title": "t",
                        "cells": {"c": cell},
                    }
                    for fid in ("streaming.exec.spdy", "pod.metrics.cpu", "pod.gone-since")
                ],
            }
        )
    )
    rows = {row.id: row for row in load(path).features}
    assert (rows["streaming.exec.spdy"].level, rows["streaming.exec.spdy"].one_of) == (
        Level.REQUIRED,
        "streaming.exec",
    )
    assert rows["pod.metrics.cpu"].level is Level.OPTIONAL
    assert rows["pod.gone-since"].level is Level.OPTIONAL  # unknown to this registry


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (
            lambda d: d.update(schema="cri-conformance/matrix/v3"),
            "'cri-conformance/matrix/v3' is not one of",
        ),
        (lambda d: d["features"][0].pop("level"), "'level' is a required property"),
        (
            lambda d: d["features"][0]["cells"]["shim"].update(state="broken"),
            "features/0/cells/shim/state",
        ),
        (lambda d: d["runtimes"][0].pop("endpoint"), "'endpoint' is a required property"),
        (lambda d: d["features"][0]["cells"]["shim"].update(tests=0), "less than the minimum"),
    ],
)
def test_a_file_that_breaks_the_contract_is_refused_naming_where(
    two_runtime_matrix: Matrix,
    tmp_path: Path,
    edit: Callable[[dict[str, object]], None],
    complaint: str,
) -> None:
    data = two_runtime_matrix.to_json()
    edit(data)
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MatrixError, match=complaint) as raised:
        load(path)
    assert str(path) in str(raised.value)


def test_a_reader_ignores_keys_it_does_not_know(two_runtime_matrix: Matrix, tmp_path: Path) -> None:
    data = two_runtime_matrix.to_json()
    data["runtimes"][0]["node"] = "worker-1"
    data["features"][0]["cells"]["shim"]["log"] = "x"
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps(data))
    assert load(path).runtime_names() == ["containerd", "shim"]


def test_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "matrix.json"
    path.write_text('{\n"schema": \n')
    with pytest.raises(MatrixError, match=r"matrix\.json:3: not JSON"):
        load(path)


def test_merge_puts_runs_side_by_side_and_unions_the_features(make_run: MakeRun) -> None:
    a = one_run(make_run, "node-a", {"pod.lifecycle": State.PASS, "pod.dns": State.FAIL})
    b = one_run(make_run, "node-b", {"pod.lifecycle": State.PASS, "container.exec": State.SKIP})
    merged = merge([("a.json", a), ("b.json", b)])
    assert merged.runtime_names() == ["node-a", "node-b"]
    assert [row.id for row in merged.features] == ["container.exec", "pod.lifecycle", "pod.dns"]
    lifecycle = merged.features[1].cells
    assert set(lifecycle) == {"node-a", "node-b"}
    assert merged.features[0].cells == {"node-b": Cell(State.SKIP, "why skip", 1)}
    assert merged.features[0].level is Level.REQUIRED
    assert merged.totals("node-a")[State.FAIL] == 1
    assert merged.totals("node-b")[State.FAIL] == 0


def test_merge_refuses_two_runs_of_the_same_name(make_run: MakeRun) -> None:
    a = one_run(make_run, "containerd", {"pod.lifecycle": State.PASS})
    with pytest.raises(
        MatrixError, match=r"a\.json and b\.json both hold a runtime named 'containerd'"
    ):
        merge([("a.json", a), ("b.json", a)])


def test_report_merge_writes_all_three_outputs(make_run: MakeRun, tmp_path: Path) -> None:
    paths = []
    for name, state in (("a", State.PASS), ("b", State.UNSUPPORTED)):
        path = tmp_path / f"{name}.json"
        save(one_run(make_run, name, {"pod.lifecycle": state}), path)
        paths.append(str(path))
    out = tmp_path / "merged"
    assert main(["report", "merge", *paths, "-o", str(out)]) == 0
    merged = load(out / "matrix.json")
    assert merged.features[0].cells["b"].state is State.UNSUPPORTED
    assert (
        "| `pod.lifecycle` title of pod.lifecycle | ✅ pass | 🚫 unsupported |"
        in (out / "matrix.md").read_text()
    )
    assert 'data-runtime="b"' in (out / "matrix.html").read_text()


def test_report_merge_of_a_clash_exits_2_with_one_line(
    make_run: MakeRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.json"
    save(one_run(make_run, "a", {"pod.lifecycle": State.PASS}), path)
    assert main(["report", "merge", str(path), str(path), "-o", str(tmp_path / "o")]) == 2
    assert "both hold a runtime named 'a'" in capsys.readouterr().err
