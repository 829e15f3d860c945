"""Known differences: ones a pair of runtimes is accepted to have, each with its reason.

As a runtime profile declares what a runtime does not do, a known-differences file lists
where two runtimes are accepted to differ (``--known NAME`` for a file in
``fixtures/diff/``, or ``--known PATH``; repeat for more). A YAML list under
``differences:``, each entry:

- ``field``: a glob over field paths (``container.*.inside.hosts``);
- ``reason``: why the difference is accepted, for the person reading the report;
- ``a``, ``b`` (optional): regular expressions one side's value must match (searched in its
  JSON text, ``null`` when unset), so the entry accepts this difference and no other in the
  same field.

A listed difference is reported as known, never as new, and does not fail the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from harness.diff.compare import FieldDifference
from harness.diff.entries import EntriesError, compiled, read_entries
from harness.diff.observation import Value
from harness.package_data import fixtures_dir

FOLDER = "diff"


@dataclass(frozen=True)
class KnownDifference:
    field: str
    reason: str
    source: str
    a: re.Pattern[str] | None = None
    b: re.Pattern[str] | None = None

    def accepts(self, difference: FieldDifference) -> bool:
        return (
            fnmatchcase(difference.path, self.field)
            and _matches(self.a, difference.a)
            and _matches(self.b, difference.b)
        )


def _matches(pattern: re.Pattern[str] | None, value: Value) -> bool:
    if pattern is None:
        return True
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return pattern.search(text) is not None


@dataclass(frozen=True)
class Classified:
    """A difference, and the entry that accepts it (None: a new difference)."""

    difference: FieldDifference
    known: KnownDifference | None = None

    @property
    def is_new(self) -> bool:
        return self.known is None


def classify(
    differences: Iterable[FieldDifference], known: Iterable[KnownDifference]
) -> list[Classified]:
    entries = list(known)
    return [
        Classified(difference, next((k for k in entries if k.accepts(difference)), None))
        for difference in differences
    ]


def known_file(name_or_path: str) -> Path:
    """A file of ``fixtures/diff/`` by name (without .yaml), else a path."""
    shipped = fixtures_dir() / FOLDER / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    path = Path(name_or_path)
    if not path.is_file():
        names = sorted(p.stem for p in (fixtures_dir() / FOLDER).glob("*.yaml"))
        raise EntriesError(
            f"--known {name_or_path}: no such file, nor a name of fixtures/diff "
            f"({', '.join(names)})"
        )
    return path


def load_known(name_or_path: str) -> list[KnownDifference]:
    path = known_file(name_or_path)
    entries = read_entries(path, "differences", {"field", "reason"}, {"a", "b"})
    found = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: differences entry {number}"
        patterns = {side: compiled(entry[side], where) for side in ("a", "b") if side in entry}
        found.append(KnownDifference(entry["field"], entry["reason"], str(path), **patterns))
    return found
