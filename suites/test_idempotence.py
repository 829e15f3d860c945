"""Idempotence: stop and remove must not fail when the work is already done.

The CRI API says StopPodSandbox, RemovePodSandbox, StopContainer, RemoveContainer and
RemoveImage are idempotent and must not return an error when the object is already stopped
or gone; the kubelet relies on it (it stops a pod at least once before removing it, and
retries). Ids that never existed count as gone.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.expect import refused
from harness.factories import ContainerFactory, Pod, PodFactory
from harness.image_store import present, pull_and_status
from harness.images.catalog import TestImage
from harness.lookup import unknown_id
from harness.waiting import wait_for_exit


@pytest.mark.feature("idempotence.stop-pod-twice")
def test_stopping_a_pod_twice_succeeds(cri: CriClient, make_pod: PodFactory) -> None:
    pod = make_pod()
    cri.stop_pod(pod.id)
    cri.stop_pod(pod.id)
    assert cri.pod_status(pod.id).status.state == api.SANDBOX_NOTREADY


@pytest.mark.feature("idempotence.remove-pod-twice")
def test_removing_a_pod_twice_succeeds(cri: CriClient, make_pod: PodFactory) -> None:
    pod = make_pod()
    cri.stop_pod(pod.id)
    cri.remove_pod(pod.id)
    cri.remove_pod(pod.id)
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.pod_status(pod.id)


@pytest.mark.feature("idempotence.stop-removed-pod")
def test_stopping_a_removed_pod_succeeds(cri: CriClient, make_pod: PodFactory) -> None:
    pod = make_pod()
    cri.stop_pod(pod.id)
    cri.remove_pod(pod.id)
    cri.stop_pod(pod.id)


@pytest.mark.feature("idempotence.stop-unknown-pod")
def test_stopping_a_pod_that_never_existed_succeeds(cri: CriClient) -> None:
    cri.stop_pod(unknown_id())


@pytest.mark.feature("idempotence.remove-unknown-pod")
def test_removing_a_pod_that_never_existed_succeeds(cri: CriClient) -> None:
    cri.remove_pod(unknown_id())


@pytest.mark.feature("idempotence.stop-container-twice")
def test_stopping_a_container_twice_succeeds(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod)
    cri.stop_container(container.id, timeout=0)
    cri.stop_container(container.id, timeout=0)
    assert cri.container_status(container.id).status.state == api.CONTAINER_EXITED


@pytest.mark.feature("idempotence.stop-exited-container")
def test_stopping_a_container_that_exited_by_itself_succeeds_and_keeps_its_exit_code(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, command=["sh", "-c", "exit 7"])
    wait_for_exit(cri, container.id)
    cri.stop_container(container.id, timeout=0)
    status = cri.container_status(container.id).status
    assert (status.state, status.exit_code) == (api.CONTAINER_EXITED, 7)


@pytest.mark.feature("idempotence.remove-container-twice")
def test_removing_a_container_twice_succeeds(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod)
    cri.stop_container(container.id, timeout=0)
    cri.remove_container(container.id)
    cri.remove_container(container.id)
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.container_status(container.id)


@pytest.mark.feature("idempotence.stop-removed-container")
def test_stopping_a_removed_container_succeeds(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod)
    cri.stop_container(container.id, timeout=0)
    cri.remove_container(container.id)
    cri.stop_container(container.id, timeout=0)


@pytest.mark.feature("idempotence.stop-unknown-container")
def test_stopping_a_container_that_never_existed_succeeds(cri: CriClient) -> None:
    cri.stop_container(unknown_id(), timeout=0)


@pytest.mark.feature("idempotence.remove-unknown-container")
def test_removing_a_container_that_never_existed_succeeds(cri: CriClient) -> None:
    cri.remove_container(unknown_id())


@pytest.mark.feature("idempotence.remove-image-twice")
def test_removing_an_image_twice_succeeds(
    cri: CriClient, absent_image: Callable[[str], TestImage]
) -> None:
    image = absent_image("removable-twice")
    pull_and_status(cri, image.ref)
    cri.remove_image(image.ref)
    cri.remove_image(image.ref)
    assert present(cri, image.ref) is None
