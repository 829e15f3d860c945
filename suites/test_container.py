"""Containers: the lifecycle from create to remove."""

from __future__ import annotations

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.expect import refused
from harness.factories import ContainerFactory, PodFactory
from harness.waiting import wait_for_exit


@pytest.mark.feature("container.lifecycle")
def test_container_goes_through_created_running_exited_and_is_removed(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod()
    container = make_container(pod, start=False)
    assert cri.container_status(container.id).status.state == api.CONTAINER_CREATED

    cri.start_container(container.id)
    assert cri.container_status(container.id).status.state == api.CONTAINER_RUNNING

    result = cri.exec_sync(container.id, ["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=10)
    assert (result.stdout, result.stderr, result.exit_code) == (b"out\n", b"err\n", 3)

    cri.stop_container(container.id, timeout=0)
    assert wait_for_exit(cri, container.id).state == api.CONTAINER_EXITED

    cri.remove_container(container.id)
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.container_status(container.id)
