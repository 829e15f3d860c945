"""``matrix.html``: one standalone page (inline CSS, no scripts, no network) with the grid.

It opens with each runtime's verdict. Features are rows grouped by area and shape, runtimes
are columns, each cell is coloured by state and carries its reason (and what failed behind a
declaration) as hover text (``title``); a feature's name carries the rule it checks, its
``spec`` citations from this harness' registry (or its basis when it has none). A legend and
per-column totals follow.
Two views of the grid: all features, and ``matrix.html#differences-only``, the rows where the
runtimes disagree. The second is pure CSS (``:target`` hides the rows marked ``agree``), so
the page needs no script and the view is a link people can share.
The page is built with ElementTree, which escapes every value it is given.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.features import registry
from harness.features.spec import SOURCE
from harness.matrix.cells import BEST_FIRST, MEANING, Cell
from harness.matrix.document import RUN_COLUMNS, SHAPE_TITLE, Matrix, now_iso, run_summary

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
.generated { color: #666; margin: 0 0 1rem; }
table { border-collapse: collapse; margin-bottom: 1.2rem; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
thead th { background: #f3f3f3; }
#matrix td.cell { text-align: center; vertical-align: middle; font-weight: 600; min-width: 7rem; }
#matrix thead .label { display: block; font-weight: normal; color: #555; font-size: .8rem; }
#matrix th.feature code { font-size: .85rem; }
#matrix th.feature .title { display: block; font-weight: normal; color: #555; font-size: .85rem; }
tr.group th { background: #e8eaf6; font-size: 1rem; }
#runs th, #runs td.started, #runs td.duration { white-space: nowrap; }
#runs td.endpoint { word-break: break-all; min-width: 12rem; }
tfoot th, tfoot td { background: #fafafa; }
tfoot tr:first-child > * { border-top: 2px solid #888; }
tfoot td { text-align: center; }
.cell.pass { background: #c8e6c9; color: #1b5e20; }
.cell.xpass { background: #bbdefb; color: #0d47a1; }
.cell.skip { background: #eeeeee; color: #555; }
.cell.unsupported { background: #ffe0b2; color: #8a4b00; }
.cell.deviation { background: #e1bee7; color: #4a148c; }
.cell.fail { background: #ffcdd2; color: #b71c1c; }
.cell.none { color: #999; font-weight: normal; }
#views { margin: 0 0 .6rem; }
#views .differences, #differences-only:target ~ #views .all { font-weight: normal; }
#views .all, #differences-only:target ~ #views .differences { font-weight: 600; }
#differences-only:target ~ #matrix .agree { display: none; }
#verdict { list-style: none; padding: 0; margin: 0 0 1.2rem; font-size: 1.05rem; }
#verdict li { margin: .3rem 0; }
#verdict .conformant-yes { color: #1b5e20; font-weight: 600; }
#verdict .conformant-no { color: #b71c1c; font-weight: 600; }
#legend { list-style: none; padding: 0; margin: 0 0 1.2rem; }
#legend li { margin: .25rem 0; }
#legend .cell { display: inline-block; min-width: 6.5rem; text-align: center; font-weight: 600;
  padding: .1rem .4rem; border: 1px solid #ccc; margin-right: .3rem; }
"""
NOT_RUN = "not run on this runtime"
DIFFERENCES_ID = "differences-only"


def render_html(matrix: Matrix) -> str:
    html = ET.Element("html", lang="en")
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "meta", charset="utf-8")
    _text(head, "title", "CRI compatibility matrix")
    _text(head, "style", STYLE)
    body = ET.SubElement(html, "body")
    # The target of the differences-only view, first in the page: following the link keeps
    # the page at its top, and every later sibling (views, grid) can be styled from it.
    ET.SubElement(body, "a", id=DIFFERENCES_ID)
    _text(body, "h1", "CRI compatibility matrix")
    _text(body, "p", f"generated {now_iso()}", {"class": "generated"})
    body.append(_verdicts(matrix))
    body.append(_runs(matrix))
    body.append(_legend())
    body.append(_views(matrix))
    body.append(_grid(matrix))
    return "<!DOCTYPE html>\n" + ET.tostring(html, encoding="unicode", method="html") + "\n"


def _verdicts(matrix: Matrix) -> ET.Element:
    listing = ET.Element("ul", id="verdict")
    for name in matrix.runtime_names():
        verdict = matrix.verdict(name)
        item = ET.SubElement(listing, "li", {"data-runtime": name})
        _text(item, "strong", name)
        required, optional, conformant = verdict.lines()
        answer = "yes" if verdict.conformant else "no"
        item[-1].tail = f": {required} · {optional} · "
        _text(item, "span", conformant, {"class": f"conformant-{answer}"})
    return listing


def _runs(matrix: Matrix) -> ET.Element:
    table = ET.Element("table", id="runs")
    _header_row(ET.SubElement(table, "thead"), RUN_COLUMNS)
    body = ET.SubElement(table, "tbody")
    for run in matrix.runtimes:
        row = ET.SubElement(body, "tr", {"data-runtime": run.name})
        _text(row, "th", run.name)
        for column, value in zip(RUN_COLUMNS[1:], run_summary(matrix, run), strict=True):
            _text(row, "td", value, {"class": column})
    return table


def _legend() -> ET.Element:
    legend = ET.Element("ul", id="legend")
    for state in BEST_FIRST:
        item = ET.SubElement(legend, "li", {"data-state": state.value})
        _text(item, "span", state.value, {"class": f"cell {state.value}"})
        item[-1].tail = MEANING[state]
    return legend


def _views(matrix: Matrix) -> ET.Element:
    names = matrix.runtime_names()
    differing = sum(row.runtimes_disagree(names) for row in matrix.features)
    views = ET.Element("p", id="views")
    views.text = "Show: "
    _text(views, "a", "all features", {"href": "#", "class": "all"}).tail = " · "
    link = _text(views, "a", "differences only", {"href": f"#{DIFFERENCES_ID}"})
    link.set("class", "differences")
    link.tail = f" ({differing} of {len(matrix.features)} features, where the runtimes disagree)"
    return views


def _grid(matrix: Matrix) -> ET.Element:
    names = matrix.runtime_names()
    table = ET.Element("table", id="matrix")
    header = ET.SubElement(ET.SubElement(table, "thead"), "tr")
    _text(header, "th", "feature")
    for run in matrix.runtimes:
        column = _text(header, "th", run.name, {"data-runtime": run.name})
        _text(column, "span", run.label, {"class": "label"})
    for area, shape, rows in matrix.groups():
        group = ET.SubElement(table, "tbody", {"data-area": area, "data-shape": shape})
        if not any(row.runtimes_disagree(names) for row in rows):
            group.set("class", "agree")
        title = ET.SubElement(ET.SubElement(group, "tr", {"class": "group"}), "th")
        title.set("colspan", str(len(names) + 1))
        title.text = f"{area}: {SHAPE_TITLE.get(shape, shape)}"
        for feature in rows:
            row = ET.SubElement(group, "tr", {"data-feature": feature.id})
            row.set("class", "differ" if feature.runtimes_disagree(names) else "agree")
            header = ET.SubElement(row, "th", {"scope": "row", "class": "feature"})
            if rule := _rule(feature.id):
                header.set("title", rule)
            _text(header, "code", feature.id)
            _text(header, "span", feature.title, {"class": "title"})
            for name in names:
                row.append(_cell(feature.cells.get(name)))
    foot = ET.SubElement(table, "tfoot")
    totals = {name: matrix.totals(name) for name in names}
    for state in BEST_FIRST:
        row = ET.SubElement(foot, "tr", {"class": "total", "data-state": state.value})
        _text(row, "th", state.value, {"class": f"cell {state.value}"})
        for name in names:
            _text(row, "td", str(totals[name][state]), {"data-runtime": name})
    row = ET.SubElement(foot, "tr", {"class": "total", "data-state": "all"})
    _text(row, "th", "features")
    for name in names:
        _text(row, "td", str(sum(totals[name].values())), {"data-runtime": name})
    return table


def _rule(feature_id: str) -> str:
    """A row's hover: the citations of the rule it checks, else why it is required or optional.

    Looked up in this harness' registry, as the verdict is: a matrix merged from older runs
    shows today's citations; a feature the registry no longer has shows none.
    """
    feature = registry().get(feature_id)
    if feature is None:
        return ""
    if not feature.spec:
        return feature.basis
    lines = [str(citation) for citation in feature.spec]
    if any(citation.lines for citation in feature.spec):
        lines.append(f"(api.proto lines of {SOURCE})")
    return "\n".join(lines)


def _cell(cell: Cell | None) -> ET.Element:
    if cell is None:
        return _element("td", "-", {"class": "cell none", "title": NOT_RUN})
    hover = f"{cell.state.value} ({cell.tests} test{'s' if cell.tests != 1 else ''})"
    if cell.reason:
        hover += f": {cell.reason}"
    if cell.failure:
        hover += f" (failed with: {cell.failure})"
    return _element("td", cell.state.value, {"class": f"cell {cell.state.value}", "title": hover})


def _header_row(parent: ET.Element, headers: list[str]) -> None:
    row = ET.SubElement(parent, "tr")
    for header in headers:
        _text(row, "th", header)


def _text(
    parent: ET.Element, tag: str, text: str, attributes: dict[str, str] | None = None
) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes or {})
    element.text = text
    return element


def _element(tag: str, text: str, attributes: dict[str, str]) -> ET.Element:
    element = ET.Element(tag, attributes)
    element.text = text
    return element
