"""Properties of generated pod specs, checked against the live runtime.

Hypothesis draws pod and container configs (``harness.properties.specs``,
``harness.properties.invalid_specs``); each example runs in its own Lab and is removed before
the next. A failing example is saved under ``--cri-report-dir``/failing-specs/ and replays
with ``cri-conformance replay FILE``.
One test, one row per property: the strategy is all that differs between them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.images.catalog import ImageCatalog
from harness.properties import invalid_specs, specs
from harness.properties.hypothesis_profiles import for_property_tests
from harness.properties.runner import PropertyRunner

SpecStrategy = Callable[[specs.Owner, str], Any]
PER_EXAMPLE = for_property_tests()


def spec_of(property: str, **options: Any) -> SpecStrategy:
    return lambda owner, image: specs.pod_specs(owner, image, property, **options)


def case(feature: str, strategy: SpecStrategy, shape: str = "single") -> Any:
    return pytest.param(
        strategy,
        id=feature.removeprefix("properties."),
        marks=pytest.mark.feature(feature, shape=shape),
    )


PROPERTIES = [
    case("properties.pod-metadata", spec_of("pod-metadata", containers=(0, 0))),
    case("properties.container-metadata", spec_of("container-metadata")),
    case("properties.container-process", spec_of("container-process")),
    case("properties.pod-dns", spec_of("pod-dns")),
    case("properties.mounts", spec_of("mounts", mounts=True)),
    case("properties.resources", spec_of("resources", resources=True)),
    case(
        "properties.multi-shapes",
        spec_of("multi-shapes", containers=(1, 4), pid_mode=specs.pid_modes()),
        shape="multi",
    ),
    case("properties.invalid.missing-fields", invalid_specs.missing_fields),
    case("properties.invalid.unknown-ids", invalid_specs.unknown_id_calls),
    case("properties.invalid.names", invalid_specs.odd_name_specs),
    case(
        "properties.invalid.image-references",
        invalid_specs.image_references("invalid.image-references"),
    ),
    case(
        "properties.invalid.pull-references",
        invalid_specs.image_references("invalid.pull-references"),
    ),
    case("properties.invalid.negative-resources", invalid_specs.negative_resource_specs),
    case("properties.invalid.conflicting-options", invalid_specs.conflicting_option_specs),
]


@pytest.mark.parametrize("strategy", PROPERTIES)
@PER_EXAMPLE
@given(data=st.data())
def test_generated_specs_keep_their_property(
    strategy: SpecStrategy,
    data: st.DataObject,
    property_runner: PropertyRunner,
    images: ImageCatalog,
) -> None:
    spec = data.draw(strategy(property_runner.owner, images.busybox.ref))
    property_runner.check(spec)
