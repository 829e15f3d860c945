"""The properties a spec can be checked against, by name.

A property is a function of a ``Lab`` (the per-example scope on the runtime) and a ``Spec``
(the configs). The same function runs under hypothesis in ``suites/test_properties.py`` and
from a saved spec file in ``cri-conformance replay``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.properties.lab import Lab
from harness.properties.spec_files import Spec

Check = Callable[[Lab, Spec], None]


@dataclass(frozen=True)
class Property:
    name: str
    feature: str
    check: Check


PROPERTIES: dict[str, Property] = {}


class UnknownProperty(Exception):
    """A spec names a property this harness does not have."""


def register(name: str, feature: str) -> Callable[[Check], Check]:
    """Decorator: make ``check`` the property ``name``, a row of the matrix as ``feature``."""

    def add(check: Check) -> Check:
        if name in PROPERTIES:
            raise ValueError(f"property {name!r} is registered twice")
        PROPERTIES[name] = Property(name, feature, check)
        return check

    return add


def lookup(name: str) -> Property:
    try:
        return PROPERTIES[name]
    except KeyError:
        known = ", ".join(sorted(PROPERTIES))
        raise UnknownProperty(f"no property {name!r}; known: {known}") from None
