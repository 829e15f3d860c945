"""Normalisation: what is expected to differ between runtimes, set aside before comparing.

Two steps, both explicit:

1. **Placeholders.** The values one instance of a spec was given or handed back (the pod's
   name and uid, the ids the runtime returned, the pod IP, the host folders of its logs and
   volumes) differ on every run by nature. Each one is replaced, wherever it appears in any
   field, by a stable name (``<pod-id>``, ``<container-id-0>``, ``<pod-ip>``...). What stays
   is how a runtime *uses* them: a hosts file naming ``<pod-ip>`` next to the hostname still
   differs from one that does not name it at all.
2. **Rules**, per field: a glob over field paths, an action, and the reason it is right.
   ``BUILTIN`` holds the harness's own; ``--rules FILE`` adds more (a YAML list under
   ``rules:`` with the same keys), applied after these, in order.

Actions: ``presence`` (keep only whether the value is set), ``sort`` (a list whose order
means nothing), ``drop`` (remove list items, map keys, or the whole string value, matching
``match``), ``replace`` (substitute ``match`` with ``with`` in every string), ``ignore`` (drop
the field).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from harness.diff.entries import EntriesError, compiled, read_entries
from harness.diff.observation import Fields, Value

SET = "<set>"
ACTIONS = ("presence", "sort", "drop", "replace", "ignore")
NEEDS_MATCH = ("drop", "replace")
# Placeholders stand for whole values: never for a piece of a longer word, name or number.
_EDGE_BEFORE = r"(?<![\w.-])"
_EDGE_AFTER = r"(?![\w-])"


@dataclass(frozen=True)
class Rule:
    field: str
    action: str
    reason: str
    match: re.Pattern[str] | None = None
    replacement: str = ""

    def applies_to(self, path: str) -> bool:
        return fnmatchcase(path, self.field)

    def describe(self) -> str:
        pattern = f" /{self.match.pattern}/" if self.match else ""
        target = f" -> {self.replacement!r}" if self.action == "replace" else ""
        return f"{self.field}: {self.action}{pattern}{target} ({self.reason})"


def _rule(field: str, action: str, reason: str, match: str | None = None) -> Rule:
    return Rule(field, action, reason, re.compile(match) if match else None)


TIMESTAMP = "a time: when it happened differs on every run; whether it is set does not"
BUILTIN: tuple[Rule, ...] = (
    _rule("pod.status.created_at", "presence", TIMESTAMP),
    _rule("container.*.status.created_at", "presence", TIMESTAMP),
    _rule("container.*.status.started_at", "presence", TIMESTAMP),
    _rule("container.*.status.finished_at", "presence", TIMESTAMP),
    _rule(
        "container.*.inside.mounts",
        "sort",
        "mountinfo lists mounts in the order the runtime made them; a workload sees the set",
    ),
)


def load_rules(path: Path) -> list[Rule]:
    """The rules of a user's file, checked: a known action, a pattern where it needs one."""
    rules = []
    entries = read_entries(path, "rules", {"field", "action", "reason"}, {"match", "with"})
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: rules entry {number}"
        if entry["action"] not in ACTIONS:
            raise EntriesError(f"{where}: action must be one of {', '.join(ACTIONS)}")
        if (entry["action"] in NEEDS_MATCH) != ("match" in entry):
            raise EntriesError(f"{where}: match is needed by {' and '.join(NEEDS_MATCH)} only")
        if ("with" in entry) and entry["action"] != "replace":
            raise EntriesError(f"{where}: with belongs to action replace")
        match = compiled(entry["match"], where) if "match" in entry else None
        rules.append(
            Rule(entry["field"], entry["action"], entry["reason"], match, entry.get("with", ""))
        )
    return rules


def substitution(placeholders: dict[str, str]) -> Callable[[Value], Value]:
    """A function replacing, at any depth of a value, each placeholder's value by its name."""
    known = {text: name for text, name in placeholders.items() if text}
    if not known:
        return lambda value: value
    alternatives = "|".join(re.escape(text) for text in sorted(known, key=len, reverse=True))
    pattern = re.compile(f"{_EDGE_BEFORE}(?:{alternatives}){_EDGE_AFTER}")
    return lambda value: _strings(value, lambda text: pattern.sub(lambda m: known[m[0]], text))


def _strings(value: Value, change: Callable[[str], str]) -> Value:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_strings(item, change) for item in value]
    if isinstance(value, dict):
        return {change(key): _strings(item, change) for key, item in value.items()}
    return value


def _text(value: Value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _apply(rule: Rule, value: Value) -> tuple[bool, Value]:
    """(kept, new value) of one field under one rule."""
    if rule.action == "ignore":
        return False, None
    if rule.action == "presence":
        return True, SET if value not in (None, "", 0, "0", [], {}) else None
    if rule.action == "sort":
        return True, sorted(value, key=_text) if isinstance(value, list) else value
    assert rule.match is not None
    match = rule.match
    if rule.action == "replace":
        return True, _strings(value, lambda text: match.sub(rule.replacement, text))
    if isinstance(value, list):
        return True, [item for item in value if not match.search(_text(item))]
    if isinstance(value, dict):
        return True, {key: item for key, item in value.items() if not match.search(key)}
    return not match.search(_text(value)), value


def normalise(fields: Fields, placeholders: dict[str, str], rules: Sequence[Rule]) -> Fields:
    """The fields with placeholders in, then every rule applied in order."""
    substitute = substitution(placeholders)
    result: Fields = {}
    for path, raw in fields.items():
        value = substitute(raw)
        kept = True
        for rule in rules:
            if kept and rule.applies_to(path):
                kept, value = _apply(rule, value)
        if kept:
            result[path] = value
    return result
