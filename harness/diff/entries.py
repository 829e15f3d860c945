"""Reading the YAML files a user gives a diff: a list of entries under one key.

Normalisation rules (``rules:``) and known differences (``differences:``) are both lists of
small mappings of strings. Every problem names the file, the entry's number and the key, for
someone reading a review diff rather than a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from harness import yaml_text


class EntriesError(Exception):
    """A file of rules or known differences that cannot be used."""

    exit_code = 2


def read_entries(
    path: Path, section: str, required: set[str], optional: set[str]
) -> list[dict[str, str]]:
    """The entries under ``section``: each a mapping with every ``required`` key and maybe
    ``optional`` ones, all strings. An empty or missing section is no entries."""
    try:
        document = yaml_text.load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise EntriesError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise EntriesError(f"{path}: not YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get(section, []), list):
        raise EntriesError(f"{path}: expected a mapping with a list under {section!r}")
    entries = []
    for number, entry in enumerate(document.get(section) or [], start=1):
        where = f"{path}: {section} entry {number}"
        if not isinstance(entry, dict):
            raise EntriesError(f"{where}: expected a mapping")
        missing = required - set(entry)
        unknown = set(entry) - required - optional
        if missing or unknown:
            raise EntriesError(
                f"{where}: "
                + "; ".join(
                    filter(None, [_named("missing", missing), _named("unknown key(s)", unknown)])
                )
            )
        if not all(isinstance(value, str) and value for value in entry.values()):
            raise EntriesError(f"{where}: every value must be a non-empty string")
        entries.append({str(key): value for key, value in entry.items()})
    return entries


def compiled(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise EntriesError(f"{where}: {pattern!r} is not a regular expression: {error}") from None


def _named(what: str, keys: set[str]) -> str:
    return f"{what} {', '.join(sorted(keys))}" if keys else ""
