"""``cri-conformance bench`` end to end: a short bench of containerd 1.6 and the embedded shim.

Short on purpose (a few samples, small counts): CI checks that the bench measures every
operation and writes a valid JSON, a Markdown with ratios and an HTML page with its plots,
never how fast anything was. The screenshot lands in reports/bench-screenshot.png.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import PNG_SIGNATURE, run

from harness.bench import result
from harness.bench.operations import OPERATIONS
from harness.cli import main

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "reports" / "bench-screenshot.png"
LISTS = ("ListPodSandbox", "ListContainers", "ListImages")


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory: pytest.TempPathFactory, containerd_endpoint: str) -> Path:
    output = tmp_path_factory.mktemp("bench")
    code = main(
        [
            "bench",
            "--target", f"containerd={containerd_endpoint}",
            "--target", "shim=embedded:shared-vm",
            "--samples", "3",
            "--pods", "4",
            "--concurrency", "1,4",
            "--scale", "2,4",
            "--scale-samples", "3",
            "-o", str(output),
        ]
    )  # fmt: skip
    assert code == 0
    return output


def test_the_json_holds_every_operation_of_both_targets(bench_dir: Path) -> None:
    data = json.loads((bench_dir / "bench.json").read_text())
    targets = result.targets_of(result.validate(data, "bench.json"))
    assert [target.name for target in targets] == ["containerd", "shim"]
    for target in targets:
        assert sorted(target.operations) == sorted(OPERATIONS)
        assert all(len(lat.samples) == 3 for lat in target.operations.values())
        assert [point["concurrency"] for point in target.throughput] == [1, 4]
        assert {(op, n) for op, n, _ in target.scaling} == {(op, n) for op in LISTS for n in (2, 4)}
        assert target.notes == []  # nothing left over to sweep, nothing foreign met


def test_the_markdown_gives_the_shim_as_a_ratio_of_containerd(bench_dir: Path) -> None:
    text = (bench_dir / "bench.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| RunPodSandbox |"))
    containerd, shim = row.split("|")[2:4]
    assert "(1.00x)" in containerd
    assert "x)" in shim


class Figures(HTMLParser):
    """The figures of the rendered page by class, and the SVG plots they hold."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[str] = []
        self.plots = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "figure":
            self.figures.append(dict(attrs).get("class") or "")
        if tag == "svg":
            self.plots += 1


def test_chromium_renders_the_plots(chromium: list[str], bench_dir: Path) -> None:
    page = bench_dir / "bench.html"
    figures = Figures()
    figures.feed(run([*chromium, "--dump-dom", page.as_uri()]))
    assert figures.figures.count("cdf") == len(OPERATIONS)
    assert figures.figures.count("scaling") == len(LISTS)
    assert figures.figures.count("throughput") == 1
    assert figures.plots == len(figures.figures)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    run([*chromium, "--window-size=1280,1600", f"--screenshot={SCREENSHOT}", page.as_uri()])
    image = SCREENSHOT.read_bytes()
    assert image.startswith(PNG_SIGNATURE)
    assert len(image) > 20_000  # plots, not a blank page
