"""Spec files for replay tests: the simplest spec a property's strategy makes."""

from __future__ import annotations

from typing import TypedDict, Unpack

from cri_api.v1 import api_pb2 as cri
from hypothesis import find
from hypothesis.strategies import SearchStrategy

from harness.images.registry import DEFAULT_ADDRESS, repository
from harness.properties import specs
from harness.properties.spec_files import Spec

OWNER = specs.Owner("20260101-000000-abcdef", "tests::replay", "/nonexistent/logs", "/gone")
IMAGE = f"{repository(DEFAULT_ADDRESS, 'busybox')}:1.0"


class SpecOptions(TypedDict, total=False):
    """The options of ``specs.pod_specs`` that replay tests set, typed so mypy checks them."""

    containers: tuple[int, int]
    pid_mode: SearchStrategy[cri.NamespaceMode.ValueType]
    mounts: bool


def a_spec(property: str, **options: Unpack[SpecOptions]) -> Spec:
    """Deterministic: no randomness in the test."""
    spec: Spec = find(specs.pod_specs(OWNER, IMAGE, property, **options), lambda _: True)
    return spec
