"""The diff's report: ``diff.json`` (the document below), ``diff.md``, ``diff.html``, and one
replayable spec file per distinct difference under ``specs/``.

The document (``format: cri-conformance/diff/v1``) says what ran (both runtimes, the seed, the
areas, the rules and known-differences files) and lists the findings, new ones first. Each
finding names the field that differs (``container.*`` for any container), whether it is new
or known (and why), in how many explored examples it showed, its minimal spec (and whether
hypothesis shrank it), the command that replays it, every difference of that minimal example,
and both observations of it whole.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.diff.areas import area_of
from harness.diff.driver import Finding, Outcome
from harness.diff.inside import INSIDE_AREAS
from harness.diff.normalise import Rule
from harness.diff.render import render_html, render_markdown
from harness.json_files import write_json
from harness.matrix.runner import Target
from harness.properties.spec_files import save

FORMAT = "cri-conformance/diff/v1"
JSON_FILE, MARKDOWN_FILE, HTML_FILE = "diff.json", "diff.md", "diff.html"
SPECS = "specs"


@dataclass(frozen=True)
class RunInfo:
    """What ran: the run's id, seed and scope, the two targets and what answered on each."""

    run_id: str
    seed: int
    examples: int
    areas: frozenset[str]
    shrink_runs: int
    a: Target
    b: Target
    runtimes: dict[str, str]
    rules: tuple[Rule, ...]
    rules_files: tuple[str, ...]
    known_files: tuple[str, ...]
    duration_s: float
    notes: tuple[str, ...] = ()

    def replay_command(self, spec_file: Path) -> str:
        words = ["cri-conformance", "replay", "--diff", str(spec_file)]
        for option, target in (("--a", self.a), ("--b", self.b)):
            words += [option, f"{target.name}={target.endpoint}"]
        words += [w for file in self.known_files for w in ("--known", file)]
        words += [w for file in self.rules_files for w in ("--rules", file)]
        return shlex.join(words)


def _target(target: Target, runtimes: dict[str, str]) -> dict[str, Any]:
    return {
        "name": target.name,
        "endpoint": target.endpoint,
        "runtime": runtimes.get(target.name, ""),
        "runtime_handler": target.handler or "",
    }


def slug(signature: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", signature.replace("*", "any")).strip("-")


def _finding(number: int, finding: Finding, info: RunInfo, output: Path) -> dict[str, Any]:
    assert finding.example is not None
    example = finding.example
    identifier = f"d{number}"
    spec_file = Path(SPECS) / f"{identifier}-{slug(finding.signature)}.json"
    save(
        example.spec,
        output / spec_file,
        difference=finding.signature,
        seed=info.seed,
        a=info.a.name,
        b=info.b.name,
    )
    return {
        "id": identifier,
        "field": finding.signature,
        "area": area_of(finding.signature, INSIDE_AREAS),
        "status": "new" if finding.is_new else "known",
        "reason": finding.reason,
        "examples": finding.count,
        "shrunk": finding.shrunk,
        "spec_file": str(spec_file),
        "replay": info.replay_command(output / spec_file),
        "differences": [
            {
                "path": c.difference.path,
                "status": "new" if c.is_new else "known",
                "detail": c.difference.detail(),
            }
            for c in example.differences
        ],
        "observations": {"a": example.a, "b": example.b},
    }


def document(info: RunInfo, outcome: Outcome, output: Path) -> dict[str, Any]:
    """The report's JSON; writes the spec file of each finding under ``output``."""
    return {
        "format": FORMAT,
        "run_id": info.run_id,
        "seed": info.seed,
        "examples": outcome.explored,
        "runs": outcome.runs,
        "areas": sorted(info.areas),
        "shrink_runs": info.shrink_runs,
        "duration_s": round(info.duration_s, 1),
        "a": _target(info.a, info.runtimes),
        "b": _target(info.b, info.runtimes),
        "rules": [rule.describe() for rule in info.rules],
        "rules_files": list(info.rules_files),
        "known_files": list(info.known_files),
        "notes": list(info.notes),
        "findings": [
            _finding(number, finding, info, output)
            for number, finding in enumerate(outcome.findings, start=1)
        ],
    }


def write(data: dict[str, Any], output: Path) -> list[Path]:
    """diff.json, diff.md and diff.html in ``output``; their paths."""
    written = [write_json(output / JSON_FILE, data)]
    for name, render in ((MARKDOWN_FILE, render_markdown), (HTML_FILE, render_html)):
        (output / name).write_text(render(data), encoding="utf-8")
        written.append(output / name)
    return written


def new_findings(data: dict[str, Any]) -> int:
    return sum(1 for finding in data["findings"] if finding["status"] == "new")
