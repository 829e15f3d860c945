"""Multi-container pods: each container has its own lifecycle inside the pod's.

Stopping, exiting, removing or restarting one container leaves the others running and the
pod ready; stopping or removing the pod takes every container with it.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness import probes
from harness.client import CriClient
from harness.expect import refused
from harness.factories import Container, ContainerFactory, Pod, PodFactory
from harness.lookup import container_ids
from harness.waiting import wait_for_exit


def state_of(cri: CriClient, container: Container) -> str:
    return api.ContainerState.Name(cri.container_status(container.id).status.state)


def assert_still_serving(cri: CriClient, pod: Pod, *containers: Container) -> None:
    """The pod is ready and every container in ``containers`` runs and answers an exec."""
    assert cri.pod_status(pod.id).status.state == api.SANDBOX_READY
    for container in containers:
        assert state_of(cri, container) == "CONTAINER_RUNNING", container.name
        assert probes.shell_in(cri, container.id, "echo alive") == "alive\n"


@pytest.mark.feature("multi.lifecycle.exit-independent", shape="multi")
def test_one_container_exiting_leaves_the_others_running(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("exit")
    keeper = make_container(pod, "keeper")
    quitter = make_container(pod, "quitter", command=["sh", "-c", "exit 3"])
    assert wait_for_exit(cri, quitter.id).exit_code == 3
    assert_still_serving(cri, pod, keeper)


@pytest.mark.feature("multi.lifecycle.stop-independent", shape="multi")
def test_stopping_one_container_leaves_the_others_running(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("stop-one")
    stopped, kept = make_container(pod, "stopped"), make_container(pod, "kept")
    cri.stop_container(stopped.id, timeout=0)
    assert state_of(cri, stopped) == "CONTAINER_EXITED"
    assert_still_serving(cri, pod, kept)


@pytest.mark.feature("multi.lifecycle.remove-one", shape="multi")
def test_removing_one_container_leaves_the_others_running(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("remove-one")
    removed, kept = make_container(pod, "removed"), make_container(pod, "kept")
    cri.stop_container(removed.id, timeout=0)
    cri.remove_container(removed.id)
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.container_status(removed.id)
    assert container_ids(cri, pod_sandbox_id=pod.id) == {kept.id}
    assert_still_serving(cri, pod, kept)


@pytest.mark.feature("multi.lifecycle.start-one", shape="multi")
def test_starting_one_container_does_not_start_the_others(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("start-one")
    first = make_container(pod, "first", start=False)
    second = make_container(pod, "second", start=False)
    cri.start_container(second.id)
    assert state_of(cri, first) == "CONTAINER_CREATED"
    assert state_of(cri, second) == "CONTAINER_RUNNING"
    cri.start_container(first.id)
    assert_still_serving(cri, pod, first, second)


@pytest.mark.feature("multi.lifecycle.restart", shape="multi")
def test_a_container_restarts_as_a_new_attempt_while_the_others_run(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("restart")
    restarted = make_container(pod, "restarted")
    kept = make_container(pod, "kept")
    kept_started_at = cri.container_status(kept.id).status.started_at

    cri.stop_container(restarted.id, timeout=0)
    cri.remove_container(restarted.id)
    again = make_container(pod, "restarted", attempt=1)

    status = cri.container_status(again.id).status
    assert again.id != restarted.id
    assert (status.metadata.name, status.metadata.attempt) == ("restarted", 1)
    assert status.state == api.CONTAINER_RUNNING
    assert cri.container_status(kept.id).status.started_at == kept_started_at
    assert container_ids(cri, pod_sandbox_id=pod.id) == {again.id, kept.id}
    assert_still_serving(cri, pod, again, kept)


@pytest.mark.feature("multi.lifecycle.init-sequence", shape="multi")
def test_an_init_container_runs_to_completion_before_the_next_starts(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, tmp_path: Path
) -> None:
    pod = make_pod("init")
    work = [api.Mount(container_path="/work", host_path=str(tmp_path))]
    init = make_container(
        pod, "init", command=["sh", "-c", "echo initialized > /work/ready"], mounts=work
    )
    init_status = wait_for_exit(cri, init.id)
    assert init_status.exit_code == 0

    app = make_container(pod, "app", mounts=work)
    app_status = cri.container_status(app.id).status
    assert app_status.state == api.CONTAINER_RUNNING
    assert app_status.started_at >= init_status.finished_at
    assert probes.read_file_in(cri, app.id, "/work/ready") == "initialized\n"
    assert state_of(cri, init) == "CONTAINER_EXITED"


@pytest.mark.feature("multi.lifecycle.five-containers", shape="multi")
def test_five_containers_run_in_one_pod(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("five")
    names = ["one", "two", "three", "four", "five"]
    containers = [make_container(pod, name, env={"WHO": name}) for name in names]
    assert container_ids(cri, pod_sandbox_id=pod.id) == {container.id for container in containers}
    assert_still_serving(cri, pod, *containers)
    answers = [probes.shell_in(cri, c.id, "echo $WHO").strip() for c in containers]
    assert answers == names


@pytest.mark.feature("multi.lifecycle.stop-pod", shape="multi")
def test_stopping_the_pod_stops_every_container(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("stop-pod")
    containers = [make_container(pod, name) for name in ("one", "two", "three")]
    cri.stop_pod(pod.id)
    assert cri.pod_status(pod.id).status.state == api.SANDBOX_NOTREADY
    for container in containers:
        assert wait_for_exit(cri, container.id).state == api.CONTAINER_EXITED


@pytest.mark.feature("multi.lifecycle.remove-pod", shape="multi")
def test_removing_the_pod_removes_every_container(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("remove-pod")
    containers = [make_container(pod, name) for name in ("one", "two", "three")]
    cri.stop_pod(pod.id)
    cri.remove_pod(pod.id)
    assert container_ids(cri, pod_sandbox_id=pod.id) == set()
    for container in containers:
        with refused(grpc.StatusCode.NOT_FOUND):
            cri.container_status(container.id)
