"""Spec files for replay tests: the simplest spec a property's strategy makes."""

from __future__ import annotations

from hypothesis import find

from harness.images.registry import DEFAULT_ADDRESS, repository
from harness.properties import specs
from harness.properties.spec_files import Spec

OWNER = specs.Owner("20260101-000000-abcdef", "tests::replay", "/nonexistent/logs", "/gone")
IMAGE = f"{repository(DEFAULT_ADDRESS, 'busybox')}:1.0"


def a_spec(property: str, **options: object) -> Spec:
    """Deterministic: no randomness in the test."""
    spec: Spec = find(
        specs.pod_specs(OWNER, IMAGE, property, **options),  # type: ignore[arg-type]
        lambda _: True,
    )
    return spec
