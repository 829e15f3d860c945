"""``bench.html``: one self-contained page, the Markdown's tables plus the plots.

Plots are matplotlib figures written as SVG and inlined, so the page needs no network, no
script and no file next to it (CI keeps it as one artifact). One CDF per operation shows the
whole latency distribution of every target, which a p50 and a p99 hide; the scaling curves show
how each list call grows with the objects present; the throughput curve how pods/s grows with
concurrency.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # files only: no display, whatever the environment says

from matplotlib import pyplot
from matplotlib.axes import Axes

from harness.bench.result import BenchTarget
from harness.bench.tables import Table, notes, ordered_operations, tables

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; border: 1px solid #ddd; padding: .5em; }
figcaption { font-weight: bold; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
th { background: #f3f3f3; }
"""


def _svg(title: str, draw: Callable[[Axes], None]) -> str:
    figure, axes = pyplot.subplots(figsize=(4.2, 3.0))
    try:
        draw(axes)
        axes.set_title(title, fontsize=10)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
    finally:
        pyplot.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog: it is not allowed inside HTML


def _cdf(targets: list[BenchTarget], operation: str) -> Callable[[Axes], None]:
    def draw(axes: Axes) -> None:
        for target in targets:
            if operation in target.operations:
                samples = sorted(target.operations[operation].samples)
                share = [(rank + 1) / len(samples) for rank in range(len(samples))]
                axes.step([s * 1000 for s in samples], share, where="post", label=target.name)
        axes.set_xlabel("ms")
        axes.set_ylabel("share of calls")
        axes.set_ylim(0, 1.02)

    return draw


def _scaling(targets: list[BenchTarget], operation: str) -> Callable[[Axes], None]:
    def draw(axes: Axes) -> None:
        for target in targets:
            points = sorted(
                (n, lat.summary.p50) for op, n, lat in target.scaling if op == operation
            )
            axes.plot(
                [n for n, _ in points], [p * 1000 for _, p in points], "o-", label=target.name
            )
        axes.set_xlabel("objects (pods with a container; images)")
        axes.set_ylabel("p50 ms")

    return draw


def _throughput(targets: list[BenchTarget]) -> Callable[[Axes], None]:
    def draw(axes: Axes) -> None:
        for target in targets:
            points = sorted((p["concurrency"], p["pods_per_second"]) for p in target.throughput)
            axes.plot([c for c, _ in points], [r for _, r in points], "o-", label=target.name)
        axes.set_xlabel("concurrency")
        axes.set_ylabel("pods/s")

    return draw


def _figure(kind: str, title: str, svg: str) -> str:
    return (
        f'<figure class="{kind}" data-title="{html.escape(title)}">'
        f"<figcaption>{html.escape(title)}</figcaption>{svg}</figure>"
    )


def _table(table: Table) -> str:
    header = "".join(f"<th>{html.escape(cell)}</th>" for cell in table.header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in table.rows
    )
    return f"<h2>{html.escape(table.title)}</h2><table><tr>{header}</tr>{rows}</table>"


def render_html(targets: list[BenchTarget]) -> str:
    cdfs = [
        _figure("cdf", op, _svg(f"{op} latency CDF", _cdf(targets, op)))
        for op in ordered_operations(targets)
    ]
    scaled = sorted({op for target in targets for op, _, _ in target.scaling})
    curves = [
        _figure("scaling", op, _svg(f"{op} vs objects", _scaling(targets, op))) for op in scaled
    ]
    if any(target.throughput for target in targets):
        curves.append(_figure("throughput", "throughput", _svg("throughput", _throughput(targets))))
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8"><title>CRI bench</title>',
            f"<style>{STYLE}</style></head><body>",
            "<h1>CRI bench</h1>",
            *(_table(table) for table in tables(targets)),
            "<ul>" + "".join(f"<li>{html.escape(note)}</li>" for note in notes(targets)) + "</ul>",
            "<h2>Latency CDFs</h2>",
            f'<div class="plots">{"".join(cdfs)}</div>',
            "<h2>Scaling and throughput</h2>",
            f'<div class="plots">{"".join(curves)}</div>',
            "</body></html>",
        ]
    )
