"""The three files of a matrix, written side by side into one folder."""

from __future__ import annotations

from pathlib import Path

from harness.matrix.document import Matrix, save
from harness.matrix.render_html import render_html
from harness.matrix.render_markdown import render_markdown

JSON_FILE = "matrix.json"
MARKDOWN_FILE = "matrix.md"
HTML_FILE = "matrix.html"


def write_reports(matrix: Matrix, directory: Path) -> list[Path]:
    """``matrix.json``, ``matrix.md`` and ``matrix.html`` in ``directory``; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path, html_path = (
        directory / name for name in (JSON_FILE, MARKDOWN_FILE, HTML_FILE)
    )
    save(matrix, json_path)
    markdown_path.write_text(render_markdown(matrix))
    html_path.write_text(render_html(matrix))
    return [json_path, markdown_path, html_path]
