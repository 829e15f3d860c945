"""Choosing features by id and by area, with shell-style globs.

``--cri-feature pod.list*,image.pull`` and ``--cri-area runtime,multi`` pick the tests whose
``feature`` marker names a chosen feature: one named by a feature pattern, or in an area named
by an area pattern (either is enough). ``cri-conformance features`` lists the registry with
the same patterns. A pattern that matches nothing in the registry is an error, so a typo does
not quietly run nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

import pytest

from harness.features import Feature


class SelectionError(Exception):
    """A pattern that names no feature or area; the message says how to list them."""

    exit_code = 2  # the CLI's "your input is wrong"


def _patterns(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


@dataclass(frozen=True)
class Selection:
    features: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()

    @classmethod
    def parse(cls, features: str | None, areas: str | None) -> Selection:
        """From comma-separated pattern lists, as the options and the ini settings give them."""
        return cls(_patterns(features), _patterns(areas))

    def __bool__(self) -> bool:
        return bool(self.features or self.areas)

    def matches(self, feature: Feature) -> bool:
        """Everything when nothing is chosen; else a feature or an area pattern matches."""
        if not self:
            return True
        return any(fnmatchcase(feature.id, p) for p in self.features) or any(
            fnmatchcase(feature.area, p) for p in self.areas
        )

    def chosen(self, registry: dict[str, Feature]) -> list[Feature]:
        """The chosen features in registry order; refuses a pattern that matches none."""
        for kind, patterns, names in (
            ("feature", self.features, [f.id for f in registry.values()]),
            ("area", self.areas, sorted({f.area for f in registry.values()})),
        ):
            for pattern in patterns:
                if not any(fnmatchcase(name, pattern) for name in names):
                    raise SelectionError(
                        f"no {kind} matches {pattern!r}; `cri-conformance features` lists them"
                    )
        return [feature for feature in registry.values() if self.matches(feature)]


def split_items(
    items: Iterable[pytest.Item], chosen: Iterable[Feature]
) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """(kept, deselected): a test stays when its feature marker names a chosen feature."""
    ids = {feature.id for feature in chosen}
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("feature")
        feature_id = marker.args[0] if marker is not None and marker.args else None
        (kept if feature_id in ids else dropped).append(item)
    return kept, dropped
