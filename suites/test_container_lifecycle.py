"""Containers: create, start, stop, remove, and the transitions the API refuses."""

from __future__ import annotations

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.expect import refused
from harness.factories import ContainerFactory, Pod, PodFactory
from harness.lookup import assert_container_gone, container_ids, unknown_id
from harness.probes import wait_for_file_in
from harness.waiting import wait_for_container_state, wait_for_exit


@pytest.mark.feature("container.lifecycle")
def test_container_goes_through_created_running_exited_and_is_removed(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, start=False)
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


@pytest.mark.feature("container.create")
def test_a_created_container_is_listed_in_its_pod_and_has_not_started(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, start=False)
    listed = cri.list_containers(api.ContainerFilter(id=container.id))
    assert [(item.id, item.pod_sandbox_id, item.state) for item in listed] == [
        (container.id, shared_pod.id, api.CONTAINER_CREATED)
    ]
    status = cri.container_status(container.id).status
    assert status.created_at > 0, "a created container must report created_at"
    assert (status.started_at, status.finished_at) == (0, 0), (
        f"a container that never started reports started_at {status.started_at} and "
        f"finished_at {status.finished_at}, expected 0 and 0"
    )


@pytest.mark.feature("container.start")
def test_a_started_container_is_running_its_command(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    command = ["sh", "-c", "echo ran > /tmp/marker; exec sleep 3600"]
    container = make_container(shared_pod, command=command)
    wait_for_container_state(cri, container.id, api.CONTAINER_RUNNING)
    # RUNNING says the process started, not that it got as far as writing the marker.
    assert wait_for_file_in(cri, container, "/tmp/marker") == "ran\n"


@pytest.mark.feature("container.stop")
def test_a_stopped_container_is_exited_and_listed_as_exited(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod)
    cri.stop_container(container.id, timeout=0)
    status = cri.container_status(container.id).status
    assert status.state == api.CONTAINER_EXITED, "StopContainer returned before the exit"
    exited = api.ContainerStateValue(state=api.CONTAINER_EXITED)
    assert container.id in container_ids(cri, pod_sandbox_id=shared_pod.id, state=exited)


@pytest.mark.parametrize(
    "state",
    [
        pytest.param("created", marks=pytest.mark.feature("container.remove.created")),
        pytest.param("running", marks=pytest.mark.feature("container.remove.running")),
        pytest.param("exited", marks=pytest.mark.feature("container.remove.exited")),
    ],
)
def test_a_removed_container_is_gone_from_list_and_status(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, state: str
) -> None:
    container = make_container(shared_pod, start=state != "created")
    if state == "exited":
        cri.stop_container(container.id, timeout=0)
    cri.remove_container(container.id)
    assert_container_gone(cri, container.id)


@pytest.mark.feature("container.removed-with-pod")
def test_removing_the_pod_removes_its_container(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod()
    container = make_container(pod)
    cri.stop_pod(pod.id)
    assert cri.container_status(container.id).status.state == api.CONTAINER_EXITED, (
        "StopPodSandbox must stop the pod's containers"
    )
    cri.remove_pod(pod.id)
    assert_container_gone(cri, container.id)


@pytest.mark.feature("container.start.refused-running")
def test_starting_a_running_container_is_refused_and_it_keeps_running(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod)
    with refused():
        cri.start_container(container.id)
    assert cri.container_status(container.id).status.state == api.CONTAINER_RUNNING


@pytest.mark.feature("container.start.refused-exited")
def test_an_exited_container_cannot_be_started_again(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, command=["true"])
    exited = wait_for_exit(cri, container.id)
    with refused():
        cri.start_container(container.id)
    status = cri.container_status(container.id).status
    assert (status.state, status.finished_at) == (api.CONTAINER_EXITED, exited.finished_at)


@pytest.mark.feature("container.start.not-found")
def test_starting_an_unknown_container_is_not_found(cri: CriClient) -> None:
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.start_container(unknown_id())


@pytest.mark.feature("container.status.not-found")
def test_status_of_an_unknown_container_is_not_found(cri: CriClient) -> None:
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.container_status(unknown_id())


@pytest.mark.feature("container.create.refused-stopped-pod")
def test_creating_a_container_in_a_stopped_pod_is_refused(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod()
    cri.stop_pod(pod.id)
    with refused():
        make_container(pod, start=False)
    assert container_ids(cri, pod_sandbox_id=pod.id) == set()


@pytest.mark.feature("container.create.refused-unknown-pod")
def test_creating_a_container_in_an_unknown_pod_is_refused(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    missing_pod = unknown_id()
    config = make_container.config("orphan")
    with refused():
        cri.create_container(missing_pod, config, shared_pod.config)
    assert container_ids(cri, pod_sandbox_id=missing_pod) == set()


@pytest.mark.feature("container.create.refused-duplicate-name")
def test_a_second_container_with_the_same_name_and_attempt_is_refused(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod()
    first = make_container(pod, name="twin", start=False)
    with refused():
        make_container(pod, name="twin", start=False)
    assert container_ids(cri, pod_sandbox_id=pod.id) == {first.id}
