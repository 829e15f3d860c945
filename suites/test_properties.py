"""Properties of generated pod specs, checked against the live runtime.

Hypothesis draws pod and container configs (``harness.specs``, ``harness.invalid_specs``);
each example runs in its own Lab and is removed before the next. A failing example is saved
under ``--report-dir``/failing-specs/ and replays with ``cri-conformance replay FILE``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import invalid_specs, specs
from harness.hypothesis_profiles import sharing_fixtures
from harness.images.catalog import ImageCatalog
from harness.properties.runner import PropertyRunner

PER_EXAMPLE = sharing_fixtures()


def check(
    data: st.DataObject, runner: PropertyRunner, images: ImageCatalog, strategy: object
) -> None:
    """Draw one spec from ``strategy(owner, image)`` and check its property."""
    spec = data.draw(strategy(runner.owner, images.busybox.ref))  # type: ignore[operator]
    runner.check(spec)


def spec_of(property: str, **options: object) -> object:
    return lambda owner, image: specs.pod_specs(owner, image, property, **options)


@pytest.mark.feature("properties.pod-metadata")
@PER_EXAMPLE
@given(data=st.data())
def test_pod_metadata_labels_and_annotations_round_trip(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, spec_of("pod-metadata", containers=st.just(0)))


@pytest.mark.feature("properties.container-metadata")
@PER_EXAMPLE
@given(data=st.data())
def test_container_metadata_labels_and_annotations_round_trip(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, spec_of("container-metadata"))


@pytest.mark.feature("properties.container-process")
@PER_EXAMPLE
@given(data=st.data())
def test_the_container_process_has_the_configured_argv_env_and_cwd(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, spec_of("container-process"))


@pytest.mark.feature("properties.pod-dns")
@PER_EXAMPLE
@given(data=st.data())
def test_the_container_sees_the_pods_hostname_and_dns_config(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, spec_of("pod-dns"))


@pytest.mark.feature("properties.mounts")
@PER_EXAMPLE
@given(data=st.data())
def test_host_mounts_show_their_folder_and_honour_read_only(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, spec_of("mounts", mounts=True))


@pytest.mark.feature("properties.resources")
@PER_EXAMPLE
@given(data=st.data())
def test_resource_limits_reach_the_containers_cgroup(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, spec_of("resources", resources=True))


@pytest.mark.feature("properties.multi-shapes", shape="multi")
@PER_EXAMPLE
@given(data=st.data())
def test_any_pod_shape_keeps_one_ip_one_hostname_and_its_pid_visibility(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    shape = spec_of("multi-shapes", containers=st.integers(1, 4), pid_mode=specs.pid_modes())
    check(data, property_runner, images, shape)


@pytest.mark.feature("properties.invalid.missing-fields")
@PER_EXAMPLE
@given(data=st.data())
def test_missing_metadata_or_image_is_refused(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, invalid_specs.missing_fields)


@pytest.mark.feature("properties.invalid.unknown-ids")
@PER_EXAMPLE
@given(data=st.data())
def test_calls_naming_unknown_ids_are_not_found(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, invalid_specs.unknown_id_calls)


@pytest.mark.feature("properties.invalid.names")
@PER_EXAMPLE
@given(data=st.data())
def test_odd_names_are_kept_exactly_or_refused(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, invalid_specs.odd_name_specs)


@pytest.mark.feature("properties.invalid.image-references")
@PER_EXAMPLE
@given(data=st.data())
def test_bad_image_references_are_refused_at_create(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, invalid_specs.image_references("invalid.image-references"))


@pytest.mark.feature("properties.invalid.pull-references")
@PER_EXAMPLE
@given(data=st.data())
def test_bad_image_references_are_refused_at_pull(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, invalid_specs.image_references("invalid.pull-references"))


@pytest.mark.feature("properties.invalid.negative-resources")
@PER_EXAMPLE
@given(data=st.data())
def test_negative_resources_are_refused_meaningfully_or_run(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, invalid_specs.negative_resource_specs)


@pytest.mark.feature("properties.invalid.conflicting-options")
@PER_EXAMPLE
@given(data=st.data())
def test_conflicting_options_are_refused(
    data: st.DataObject, property_runner: PropertyRunner, images: ImageCatalog
) -> None:
    check(data, property_runner, images, invalid_specs.conflicting_option_specs)
