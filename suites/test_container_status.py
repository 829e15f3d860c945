"""ContainerStatus: what the runtime reports about a container is what was asked for."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.cri_logs import log_file
from harness.factories import Container, ContainerFactory, Pod
from harness.images.catalog import ImageCatalog, TestImage

# Runtime and test read the same clock; the slack covers rounding and scheduling only.
CLOCK_SLACK_NS = 2 * 10**9


def within(value: int, before: int, after: int) -> bool:
    return before - CLOCK_SLACK_NS <= value <= after + CLOCK_SLACK_NS


def accepted_image_refs(image: TestImage) -> set[str]:
    """image_ref is the digest-based reference or the image id (config digest)."""
    return {image.digest_ref, image.config_digest}


@pytest.mark.feature("container.status.metadata")
def test_status_and_list_return_the_metadata_labels_and_annotations_given(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(
        shared_pod,
        name="described",
        attempt=2,
        labels={"app": "conformance", "empty": ""},
        annotations={"note": "a value with spaces", "json": '{"a": [1, 2]}'},
    )
    status = cri.container_status(container.id).status
    assert status.metadata == container.config.metadata
    assert dict(status.labels) == dict(container.config.labels)
    assert dict(status.annotations) == dict(container.config.annotations)
    [listed] = cri.list_containers(api.ContainerFilter(id=container.id))
    assert listed.metadata == container.config.metadata
    assert dict(listed.labels) == dict(container.config.labels)
    assert dict(listed.annotations) == dict(container.config.annotations)


@pytest.mark.feature("container.status.image")
@pytest.mark.parametrize("reference", ["tag", "digest"])
def test_status_names_the_image_asked_for_and_its_digest_or_id(
    cri: CriClient,
    shared_pod: Pod,
    make_container: ContainerFactory,
    images: ImageCatalog,
    reference: str,
) -> None:
    busybox = images.busybox
    asked = busybox.ref if reference == "tag" else busybox.digest_ref
    container = make_container(shared_pod, image=asked)
    status = cri.container_status(container.id).status
    named = cri.image_status(status.image.image).image
    assert named.id == busybox.config_digest, (
        f"status.image {status.image.image!r} names image {named.id or 'none'}; expected one "
        f"naming the image asked for ({asked}, id {busybox.config_digest})"
    )
    assert status.image_ref in accepted_image_refs(busybox), (
        f"status.image_ref is {status.image_ref!r}; expected {busybox.digest_ref} "
        f"or {busybox.config_digest}"
    )
    [listed] = cri.list_containers(api.ContainerFilter(id=container.id))
    assert listed.image_ref in accepted_image_refs(busybox)


@pytest.mark.feature("container.status.timestamps")
def test_created_started_and_finished_times_are_when_each_happened(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    before_create = time.time_ns()
    container = make_container(shared_pod, start=False)
    after_create = time.time_ns()
    cri.start_container(container.id)
    after_start = time.time_ns()
    cri.stop_container(container.id, timeout=0)
    after_stop = time.time_ns()

    status = cri.container_status(container.id).status
    assert within(status.created_at, before_create, after_create), (
        f"created_at {status.created_at} is outside CreateContainer [{before_create}, "
        f"{after_create}]"
    )
    assert within(status.started_at, after_create, after_start), (
        f"started_at {status.started_at} is outside StartContainer [{after_create}, {after_start}]"
    )
    assert within(status.finished_at, after_start, after_stop), (
        f"finished_at {status.finished_at} is outside StopContainer [{after_start}, {after_stop}]"
    )
    assert status.created_at <= status.started_at <= status.finished_at


@pytest.mark.feature("container.status.log-path")
def test_status_log_path_is_the_file_under_the_pod_log_directory(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    # The kubelet's layout: <container name>/<restart count>.log under the pod's directory.
    container = make_container(shared_pod, name="logged", log_path="logged/0.log")
    status = cri.container_status(container.id).status
    assert Path(status.log_path) == log_file(container), (
        f"status.log_path is {status.log_path!r}; the kubelet reads logs from it, so it must "
        f"be log_directory/log_path = {log_file(container)}"
    )
    assert log_file(container).exists(), "the runtime did not create the log file"


@pytest.mark.feature("container.status.verbose")
def test_verbose_status_carries_json_info_and_plain_status_does_not(
    cri: CriClient, shared_container: Container
) -> None:
    info = cri.container_status(shared_container.id, verbose=True).info
    assert info, "ContainerStatus(verbose=true) returned no info"
    for key, value in info.items():
        try:
            json.loads(value)
        except ValueError:
            pytest.fail(f"verbose info[{key!r}] is not JSON: {value[:200]!r}")
    assert not cri.container_status(shared_container.id, verbose=False).info
