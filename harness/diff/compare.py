"""Comparing two normalised observations field by field.

Every path either side has is compared; a field one side lacks compares as ``None`` (not
set, not observed). A difference says which path, both values, and for a map or a list the
part that differs, so a report can say "env: HOSTNAME only in b" rather than print two maps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.diff.observation import Fields, Value, signature


@dataclass(frozen=True)
class FieldDifference:
    path: str
    a: Value
    b: Value

    @property
    def signature(self) -> str:
        return signature(self.path)

    def detail(self) -> str:
        """The part that differs, in a line."""
        if isinstance(self.a, dict) and isinstance(self.b, dict):
            return _parts(
                [f"{key}={_show(self.a[key])}" for key in self.a if key not in self.b],
                [f"{key}={_show(self.b[key])}" for key in self.b if key not in self.a],
                [
                    f"{key}: {_show(self.a[key])} vs {_show(self.b[key])}"
                    for key in self.a
                    if key in self.b and self.a[key] != self.b[key]
                ],
            )
        if isinstance(self.a, list) and isinstance(self.b, list):
            only_a = [_show(item) for item in self.a if item not in self.b]
            only_b = [_show(item) for item in self.b if item not in self.a]
            if only_a or only_b:
                return _parts(only_a, only_b, [])
            return "same items, another order"
        return f"{_show(self.a)} vs {_show(self.b)}"


def _show(value: Value) -> str:
    return "(not set)" if value is None else json.dumps(value, ensure_ascii=False)


def _parts(only_a: list[str], only_b: list[str], changed: list[str]) -> str:
    parts = []
    if only_a:
        parts.append("only in a: " + ", ".join(only_a))
    if only_b:
        parts.append("only in b: " + ", ".join(only_b))
    if changed:
        parts.append("; ".join(changed))
    return "; ".join(parts)


def compare(a: Fields, b: Fields) -> list[FieldDifference]:
    """The fields whose values differ, by path."""
    return [
        FieldDifference(path, a.get(path), b.get(path))
        for path in sorted(set(a) | set(b))
        if a.get(path) != b.get(path)
    ]
