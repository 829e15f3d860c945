"""The bench's logic on made-up results: percentiles, the JSON document, the reports, the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.bench import result
from harness.bench.compare import compare
from harness.bench.html import render_html
from harness.bench.markdown import render
from harness.bench.runner import Scaling, Settings, TargetResult, Throughput
from harness.bench.stats import Summary, percentile
from harness.cli import main


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0
    assert Summary.of([0.3, 0.1, 0.2, 0.4]) == Summary(4, 0.2, 0.4, 0.4, 0.4)


@pytest.mark.parametrize("percent", [0, 101])
def test_a_percentile_outside_the_range_is_refused(percent: float) -> None:
    with pytest.raises(ValueError, match="not in"):
        percentile([1.0], percent)


def made_up(name: str, scale: float) -> TargetResult:
    """A target whose every time is ``scale`` times the reference's."""
    return TargetResult(
        name=name,
        endpoint=f"unix:///{name}.sock",
        runtime=f"{name} 1.0",
        latency={
            "RunPodSandbox": [0.1 * scale, 0.12 * scale, 0.2 * scale],
            "ListImages": [0.001 * scale, 0.002 * scale],
        },
        throughput=[Throughput(1, 4, 2.0 * scale), Throughput(4, 4, 1.0 * scale)],
        scaling=[
            Scaling("ListPodSandbox", 10, [0.001 * scale]),
            Scaling("ListPodSandbox", 100, [0.004 * scale]),
        ],
        notes=[f"{name} note"],
    )


def document(*scales: float) -> dict[str, object]:
    settings = Settings(image="busybox", pod_image="pause")
    targets = [made_up(f"t{number}", scale) for number, scale in enumerate(scales)]
    return result.to_json("run-1", settings, targets)


def test_the_document_validates_and_reads_back(tmp_path: Path) -> None:
    path = result.write(tmp_path / "bench.json", document(1.0, 2.0))
    first, second = result.load(path)
    assert first.operations["RunPodSandbox"].summary.p50 == pytest.approx(0.12)
    assert second.operations["RunPodSandbox"].samples == pytest.approx([0.2, 0.24, 0.4])
    assert first.throughput[0]["pods_per_second"] == pytest.approx(2.0)
    assert [(op, n) for op, n, _ in second.scaling] == [
        ("ListPodSandbox", 10),
        ("ListPodSandbox", 100),
    ]


def test_a_document_of_another_schema_is_refused(tmp_path: Path) -> None:
    data = document(1.0)
    data["schema"] = "cri-conformance/bench/v9"
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    with pytest.raises(result.ResultError, match="schema"):
        result.load(path)


def test_the_markdown_gives_ratios_against_the_first_target() -> None:
    text = render(result.targets_of(document(1.0, 3.0)))
    row = next(line for line in text.splitlines() if line.startswith("| RunPodSandbox"))
    assert "| 120.0 ms (1.00x), p99 200.0 ms | 360.0 ms (3.00x), p99 600.0 ms |" in row
    assert "| 4 | 4.00 pods/s (1.00x) | 1.33 pods/s (0.33x) |" in text
    assert "| ListPodSandbox | 100 | 4.0 ms (1.00x) | 12.0 ms (3.00x) |" in text
    assert "- t1: t1 note" in text


def test_the_html_has_a_cdf_per_operation_and_the_curves() -> None:
    page = render_html(result.targets_of(document(1.0, 2.0)))
    assert page.count('<figure class="cdf"') == 2
    assert page.count('<figure class="scaling"') == 1
    assert page.count('<figure class="throughput"') == 1
    assert page.count("<svg") == 4
    assert "<?xml" not in page
    assert "<td>240.0 ms (2.00x), p99 400.0 ms</td>" in page
    assert "<li>t1: t1 note</li>" in page


def test_compare_flags_only_what_got_slower_than_allowed() -> None:
    baseline = result.targets_of(document(1.0))
    slower = result.targets_of(document(1.3))
    assert compare(baseline, slower, 50).slower == []
    flagged = compare(baseline, slower, 20).slower
    assert {change.operation for change in flagged} == {"RunPodSandbox", "ListImages"}
    only = compare(baseline, slower, 20, ["ListImages"])
    assert [change.operation for change in only.slower] == ["ListImages"]


def test_compare_names_what_the_result_lacks() -> None:
    baseline = result.targets_of(document(1.0, 1.0))
    assert compare(baseline, result.targets_of(document(1.0)), 10).missing == [
        "t1 RunPodSandbox",
        "t1 ListImages",
    ]


def test_bench_compare_exits_1_on_a_slowdown(tmp_path: Path) -> None:
    base = result.write(tmp_path / "base.json", document(1.0))
    new = result.write(tmp_path / "new.json", document(2.0))
    arguments = ["bench", "compare", str(base), str(new), "--max-slowdown"]
    assert main([*arguments, "150"]) == 0
    assert main([*arguments, "50"]) == 1
    assert main([*arguments, "50", "--operation", "ListImages"]) == 1


def test_bench_compare_refuses_an_operation_the_baseline_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = result.write(tmp_path / "base.json", document(1.0))
    arguments = ["bench", "compare", str(base), str(base), "--max-slowdown", "50"]
    assert main([*arguments, "--operation", "ListImage"]) == 2
    assert "the baseline has no operation ListImage; it has ListImages" in capsys.readouterr().err


def test_only_images_wholly_of_the_run_are_the_benchs_to_remove() -> None:
    from types import SimpleNamespace

    from cri_api.v1 import api_pb2 as cri

    from harness.bench.images import NotOwned, OwnImages
    from harness.ownership import RunOwnership

    base: Any = SimpleNamespace(registry="127.0.0.1:5000")
    own = OwnImages(base, RunOwnership("run-1"))
    mine = "127.0.0.1:5000/cri-conformance/bench:run-1-0"
    assert own.owns(cri.Image(id="a", repo_tags=[mine]))
    for tags in ([], [mine, "127.0.0.1:5000/cri-conformance/busybox:1.0"],
                 ["127.0.0.1:5000/cri-conformance/bench:run-2-0"]):  # fmt: skip
        assert not own.owns(cri.Image(id="b", repo_tags=tags))
    with pytest.raises(NotOwned, match="not removed"):
        own.check(cri.Image(id="c", repo_tags=["docker.io/library/busybox:latest"]))
