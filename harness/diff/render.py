"""``diff.md`` and ``diff.html`` from the report's JSON document.

Both pages say what ran, list the findings (new first) with their field, status, count and
reason, then give each finding its minimal spec, the command replaying it, and both
observations side by side, every field on a row and the differing ones marked. The HTML page
is standalone (inline CSS, no script, no network) and built with ElementTree, which escapes
every value it is given.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

MARK = "≠"
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; margin-bottom: 1.2rem; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
thead th { background: #f3f3f3; }
td.value { font-family: monospace; white-space: pre-wrap; word-break: break-all; max-width: 40rem; }
tr.differs { background: #ffcdd2; }
.new { color: #b71c1c; font-weight: 600; } .known { color: #555; }
code.replay { display: block; white-space: pre-wrap; background: #f6f6f6; padding: .4rem; }
"""


def _show(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n".join(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)


def headline(data: dict[str, Any]) -> str:
    a, b = data["a"], data["b"]
    return f"{a['name']} ({a['runtime']}) vs {b['name']} ({b['runtime']})"


def summary(data: dict[str, Any]) -> list[str]:
    """The sentences under the title: scope, outcome, notes."""
    new = sum(1 for f in data["findings"] if f["status"] == "new")
    known = len(data["findings"]) - new
    lines = [
        f"{data['examples']} generated examples from seed {data['seed']} "
        f"(areas: {', '.join(data['areas'])}), {data['runs']} specs run on both runtimes "
        f"in {data['duration_s']} s; run id {data['run_id']}.",
        f"{new} new difference(s), {known} known.",
    ]
    return lines + [str(note) for note in data["notes"]]


def observation_rows(finding: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(path, a, b, differs) for every field of the finding's minimal example."""
    a, b = finding["observations"]["a"], finding["observations"]["b"]
    return [
        (path, _show(a.get(path)), _show(b.get(path)), a.get(path) != b.get(path))
        for path in sorted(set(a) | set(b))
    ]


def _status(finding: dict[str, Any]) -> str:
    return str(finding["status"]) + (f": {finding['reason']}" if finding["reason"] else "")


# -- Markdown -------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>") or " "


def render_markdown(data: dict[str, Any]) -> str:
    lines = [f"# cri-conformance diff: {headline(data)}", "", *summary(data), ""]
    if data["findings"]:
        lines += ["| # | field | status | examples |", "|---|---|---|---|"]
        lines += [
            f"| {f['id']} | `{f['field']}` | {_cell(_status(f))} | {f['examples']} |"
            for f in data["findings"]
        ]
    for finding in data["findings"]:
        shrunk = "shrunk by hypothesis" if finding["shrunk"] else "smallest explored, not shrunk"
        lines += [
            "",
            f"## {finding['id']}: `{finding['field']}` ({finding['status']})",
            "",
            f"Shown by {finding['examples']} of {data['examples']} examples. "
            f"Minimal spec ({shrunk}): `{finding['spec_file']}`.",
            "",
            "```sh",
            finding["replay"],
            "```",
            "",
            *(f"- `{d['path']}` ({d['status']}): {d['detail']}" for d in finding["differences"]),
            "",
            f"| | field | a: {data['a']['name']} | b: {data['b']['name']} |",
            "|---|---|---|---|",
            *(
                f"| {MARK if differs else ''} | `{path}` | {_cell(a)} | {_cell(b)} |"
                for path, a, b, differs in observation_rows(finding)
            ),
        ]
    return "\n".join(lines) + "\n"


# -- HTML -----------------------------------------------------------------------------------


def _add(parent: ET.Element, tag: str, text: str = "", **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attributes.items()})
    element.text = text
    return element


def _table(parent: ET.Element, header: list[str]) -> ET.Element:
    table = _add(parent, "table")
    row = _add(_add(table, "thead"), "tr")
    for title in header:
        _add(row, "th", title)
    return _add(table, "tbody")


def render_html(data: dict[str, Any]) -> str:
    html = ET.Element("html", lang="en")
    head = _add(html, "head")
    ET.SubElement(head, "meta", charset="utf-8")
    _add(head, "title", f"cri-conformance diff: {headline(data)}")
    _add(head, "style", STYLE)
    body = _add(html, "body")
    _add(body, "h1", f"cri-conformance diff: {headline(data)}")
    for line in summary(data):
        _add(body, "p", line)
    if data["findings"]:
        rows = _table(body, ["#", "field", "status", "examples"])
        for finding in data["findings"]:
            row = _add(rows, "tr")
            _add(_add(row, "td"), "a", finding["id"], href=f"#{finding['id']}")
            _add(_add(row, "td"), "code", finding["field"])
            _add(row, "td", _status(finding), class_=finding["status"])
            _add(row, "td", str(finding["examples"]))
    for finding in data["findings"]:
        _finding_html(body, data, finding)
    return "<!DOCTYPE html>\n" + ET.tostring(html, encoding="unicode", method="html") + "\n"


def _finding_html(body: ET.Element, data: dict[str, Any], finding: dict[str, Any]) -> None:
    title = _add(body, "h2", f"{finding['id']}: ", id=finding["id"])
    _add(title, "code", finding["field"]).tail = f" ({_status(finding)})"
    shrunk = "shrunk by hypothesis" if finding["shrunk"] else "smallest explored, not shrunk"
    text = _add(body, "p", f"Shown by {finding['examples']} of {data['examples']} examples. ")
    _add(text, "a", f"Minimal spec ({shrunk})", href=finding["spec_file"]).tail = "; replay:"
    _add(body, "code", finding["replay"], class_="replay")
    listing = _add(body, "ul")
    for difference in finding["differences"]:
        item = _add(listing, "li")
        _add(
            item, "code", difference["path"]
        ).tail = f" ({difference['status']}): {difference['detail']}"
    rows = _table(body, ["field", f"a: {data['a']['name']}", f"b: {data['b']['name']}"])
    for path, a, b, differs in observation_rows(finding):
        row = _add(rows, "tr", class_="differs" if differs else "same")
        _add(_add(row, "th"), "code", (f"{MARK} " if differs else "") + path)
        _add(row, "td", a, class_="value")
        _add(row, "td", b, class_="value")
