"""matrix.html in a real browser: headless Chromium renders it, we read the DOM back.

Chromium is the Debian package ``chromium`` (scripts/services install puts it there). The
screenshot lands in reports/matrix-screenshot.png for people to look at.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import PNG_SIGNATURE, run

from harness.matrix.document import Matrix
from harness.matrix.outputs import write_reports

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "reports" / "matrix-screenshot.png"


@pytest.fixture
def page(two_runtime_matrix: Matrix, tmp_path: Path) -> Path:
    write_reports(two_runtime_matrix, tmp_path / "reports")
    return tmp_path / "reports" / "matrix.html"


class Dom(HTMLParser):
    """What the rendered DOM holds: cells, legend entries, totals, column headers."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.legend: list[str] = []
        self.totals: dict[tuple[str, str], str] = {}
        self.columns: list[str] = []
        self.rules: list[str] = []  # the hover of each feature's name, in row order
        self._state = ""
        self._capture: dict[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "tr" and "total" in found.get("class", ""):
            self._state = found["data-state"]
        if tag == "li" and "data-state" in found:
            self.legend.append(found["data-state"])
        if tag == "td" and found.get("class", "").startswith("cell"):
            self.cells.append(found)
        if tag == "th" and found.get("class") == "feature":
            self.rules.append(found.get("title", ""))
        if tag in ("td", "th") and "data-runtime" in found:
            self._capture = found
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._capture is None or tag not in ("td", "span"):
            return
        text = "".join(self._text).strip()
        if tag == "td":
            self.totals[(self._state, self._capture["data-runtime"])] = text
        else:  # the span with the version ends the column header's name
            self.columns.append(self._capture["data-runtime"])
        self._capture = None


def test_chromium_renders_the_grid_totals_and_legend(chromium: list[str], page: Path) -> None:
    dom = Dom()
    dom.feed(run([*chromium, "--dump-dom", page.as_uri()]))
    assert dom.columns == ["containerd", "shim"]
    assert dom.legend == ["pass", "xpass", "skip", "unsupported", "deviation", "fail"]
    assert len(dom.cells) == 12
    states = sorted(cell["class"].removeprefix("cell ") for cell in dom.cells)
    assert states.count("pass") == 6
    assert {"fail", "unsupported", "deviation", "skip", "xpass", "none"} <= set(states)
    fail = next(cell for cell in dom.cells if cell["class"] == "cell fail")
    assert fail["title"] == "fail (2 tests): test_dns: nameserver 10.0.0.1 missing <resolv.conf>"
    assert dom.totals[("pass", "containerd")] == "4"
    assert dom.totals[("skip", "containerd")] == "1"
    assert dom.totals[("fail", "shim")] == "1"
    assert dom.totals[("all", "shim")] == "5"
    assert dom.rules[0].startswith("api.proto:28-29: RunPodSandbox creates"), dom.rules


def test_chromium_takes_a_screenshot_for_people(chromium: list[str], page: Path) -> None:
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    run([*chromium, "--window-size=1280,900", f"--screenshot={SCREENSHOT}", page.as_uri()])
    image = SCREENSHOT.read_bytes()
    assert image.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")
    assert (width, height) == (1280, 900)


# Appended to a copy of the page (the page itself has no script): what the browser shows.
SHOWN_ROWS = """<script>
addEventListener("load", () => {
  for (const row of document.querySelectorAll("#matrix tr[data-feature]")) {
    row.setAttribute("data-shown", getComputedStyle(row).display !== "none");
  }
});
</script>"""


class ShownRows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.shown: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "tr" and "data-feature" in found:
            self.shown[found["data-feature"]] = found["data-shown"]


def shown_rows(chromium: list[str], page: Path, fragment: str) -> dict[str, str]:
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text().replace("</body>", SHOWN_ROWS + "</body>"))
    rows = ShownRows()
    rows.feed(run([*chromium, "--dump-dom", probe.as_uri() + fragment]))
    return rows.shown


def test_chromium_shows_only_the_differences_in_that_view(chromium: list[str], page: Path) -> None:
    every_row = shown_rows(chromium, page, "")
    assert set(every_row.values()) == {"true"}, every_row
    differences = shown_rows(chromium, page, "#differences-only")
    # pod.lifecycle passes on both runtimes; every other row differs somewhere
    assert differences.pop("pod.lifecycle") == "false"
    assert set(differences.values()) == {"true"}, differences
