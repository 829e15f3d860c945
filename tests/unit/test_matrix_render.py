"""matrix.md and matrix.html: every cell, the reasons, the legend, the totals, escaped."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

from harness.features.spec import SOURCE
from harness.matrix.document import Matrix, RuntimeRun
from harness.matrix.render_html import render_html
from harness.matrix.render_markdown import render_markdown


class Elements(HTMLParser):
    """Every start tag with its attributes and the text directly inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str], str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}, ""))

    def handle_data(self, data: str) -> None:
        if self.found and not self.found[-1][2]:
            tag, attrs, _ = self.found[-1]
            self.found[-1] = (tag, attrs, data.strip())

    def cells(self) -> list[tuple[str, str, str]]:
        """(class, title, text) of every matrix cell."""
        return [
            (attrs["class"], attrs.get("title", ""), text)
            for tag, attrs, text in self.found
            if tag == "td" and attrs.get("class", "").startswith("cell")
        ]


def parsed(matrix: Matrix) -> Elements:
    elements = Elements()
    elements.feed(render_html(matrix))
    return elements


def test_html_is_standalone(two_runtime_matrix: Matrix) -> None:
    page = render_html(two_runtime_matrix)
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    for outside in ("<script", "<link", "http://", "https://", "src="):
        assert outside not in page


def test_html_cells_carry_state_class_and_reason_on_hover(two_runtime_matrix: Matrix) -> None:
    cells = parsed(two_runtime_matrix).cells()
    assert len(cells) == 6 * 2
    assert (
        "cell fail",
        "fail (2 tests): test_dns: nameserver 10.0.0.1 missing <resolv.conf>",
        "fail",
    ) in cells
    assert ("cell none", "not run on this runtime", "-") in cells
    assert (
        "cell deviation",
        "deviation (1 test): declared a deviation by profile shim: one container per pod "
        "(failed with: CreateContainer failed with UNIMPLEMENTED: one per pod)",
        "deviation",
    ) in cells
    assert {text for _, _, text in cells} == {
        "pass",
        "fail",
        "unsupported",
        "deviation",
        "skip",
        "xpass",
        "-",
    }


def test_html_opens_with_each_runtimes_verdict(two_runtime_matrix: Matrix) -> None:
    found = parsed(two_runtime_matrix).found
    tags = [tag for tag, _, _ in found]
    assert tags.index("ul") < tags.index("table"), "the verdict comes before any table"
    page = render_html(two_runtime_matrix)
    # the fixture's ids are not the registry's, whose requirements count as not run
    assert re.search(
        r"shim</strong>: CRI v1 required: 1/\d+ pass, 1 deviations, 1 fail, \d+ not run", page
    )
    assert re.search(r"containerd</strong>: CRI v1 required: 4/\d+ pass, 0 deviations", page)
    answers = [(attrs["class"], text) for tag, attrs, text in found if tag == "span"]
    assert ("conformant-no", "conformant to the required set: no") in answers


def test_html_groups_rows_by_area_and_shape(two_runtime_matrix: Matrix) -> None:
    groups = [
        (attrs["data-area"], attrs["data-shape"])
        for tag, attrs, _ in parsed(two_runtime_matrix).found
        if tag == "tbody" and "data-area" in attrs
    ]
    assert groups == [("pod", "single"), ("pod", "multi"), ("runtime", "single")]


def test_html_has_a_legend_and_totals_per_column(two_runtime_matrix: Matrix) -> None:
    found = parsed(two_runtime_matrix).found
    legend = [
        attrs["data-state"] for tag, attrs, _ in found if tag == "li" and "data-state" in attrs
    ]
    assert legend == ["pass", "xpass", "skip", "unsupported", "deviation", "fail"]
    totals = {
        (attrs["data-runtime"], text)
        for tag, attrs, text in found
        if tag == "td" and "data-runtime" in attrs
    }
    # containerd: 4 pass, 1 skip, 1 unsupported of 6 features; shim: 2 pass, xpass, deviation,
    # fail of 5
    assert ("containerd", "4") in totals
    assert ("containerd", "6") in totals
    assert ("shim", "5") in totals


def test_markdown_has_a_table_per_group_totals_and_reasons(two_runtime_matrix: Matrix) -> None:
    text = render_markdown(two_runtime_matrix)
    assert "## pod: multi-container pods" in text
    assert "| feature | containerd | shim |" in text
    assert "| `pod.dns` DNS config \\| resolv.conf | ✅ pass | ❌ fail |" in text
    assert "| `runtime.version` Version names the runtime | ✅ pass | — |" in text
    assert "| ❌ fail | 0 | 1 |" in text
    assert "| features | 6 | 5 |" in text
    assert (
        "- `pod.localhost` on **shim**: 🔶 deviation: declared a deviation by profile shim: "
        "one container per pod (failed with: CreateContainer failed with UNIMPLEMENTED: "
        "one per pod)" in text
    )


def test_markdown_opens_with_each_runtimes_verdict(two_runtime_matrix: Matrix) -> None:
    lines = render_markdown(two_runtime_matrix).splitlines()
    # containerd passes what it ran, but the registry's requirements did not run
    assert re.fullmatch(
        r"- \*\*containerd\*\*: CRI v1 required: 4/\d+ pass, 0 deviations, 0 fail, \d+ not run · "
        r"optional: 0/\d+ pass, 1 skip, 1 unsupported, \d+ not run · "
        r"conformant to the required set: no",
        lines[2],
    )


def test_html_marks_the_rows_where_the_runtimes_disagree(two_runtime_matrix: Matrix) -> None:
    found = parsed(two_runtime_matrix).found
    rows = {
        attrs["data-feature"]: attrs["class"]
        for tag, attrs, _ in found
        if tag == "tr" and "data-feature" in attrs
    }
    # pass and pass agree; pass and fail, skip and xpass, pass and not run disagree
    assert rows == {
        "pod.lifecycle": "agree",
        "pod.dns": "differ",
        "pod.metrics": "differ",
        "pod.localhost": "differ",
        "pod.ipc": "differ",
        "runtime.version": "differ",
    }
    views = render_html(two_runtime_matrix)
    assert '<a href="#differences-only" class="differences">differences only</a>' in views
    assert "(5 of 6 features, where the runtimes disagree)" in views
    assert "#differences-only:target ~ #matrix .agree { display: none; }" in views


def test_html_hides_a_whole_group_whose_rows_all_agree(
    two_runtime_matrix: Matrix, make_run: Callable[..., RuntimeRun]
) -> None:
    one_column = Matrix([make_run("containerd")], two_runtime_matrix.features)
    groups = [
        attrs.get("class")
        for tag, attrs, _ in parsed(one_column).found
        if tag == "tbody" and "data-area" in attrs
    ]
    assert groups == ["agree", "agree", "agree"], "one runtime never disagrees with itself"


def test_html_feature_names_carry_the_rule_they_check_on_hover(
    two_runtime_matrix: Matrix,
) -> None:
    rules, row = {}, ""
    for tag, attrs, _ in parsed(two_runtime_matrix).found:
        if tag == "tr":
            row = attrs.get("data-feature", "")
        elif tag == "th" and attrs.get("class") == "feature":
            rules[row] = attrs.get("title", "")
    assert rules["pod.lifecycle"].splitlines() == [
        "api.proto:28-29: RunPodSandbox creates and starts a pod-level sandbox. Runtimes must "
        "ensure the sandbox is in the ready state on success.",
        f"(api.proto lines of {SOURCE})",
    ]
    assert rules["pod.dns"] == "", "a feature the registry lacks has no rule to show"
