"""Multi-container pods: the IPC, UTS and PID namespaces the containers share (or not).

IPC and UTS belong to the pod; the PID namespace is the pod's only when a container asks for
``namespace_options.pid = POD``, is the container's own with ``CONTAINER``, and another
container's with ``TARGET``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from cri_api.v1 import api_pb2 as api

from harness import probes
from harness.builders import pid_namespace
from harness.client import CriClient
from harness.factories import Container, ContainerFactory, Pod, PodFactory


def sleeper(
    make_container: ContainerFactory, pod: Pod, name: str, marker: int, mode: int, target: str = ""
) -> Container:
    """A container whose only process is ``sleep <marker>``, easy to spot in ps."""
    return make_container(
        pod, name, command=["sleep", str(marker)], linux=pid_namespace(mode, target)
    )


def seen_in_two_containers(
    pod: Pod, make_container: ContainerFactory, probe: Callable[..., str], cri: CriClient
) -> set[str]:
    """What ``probe(cri, container_id)`` gives in each of two containers of ``pod``."""
    return {probe(cri, make_container(pod, name).id) for name in ("one", "two")}


def sees(cri: CriClient, viewer: Container, marker: int) -> bool:
    return f"sleep {marker}" in probes.process_args_in(cri, viewer.id)


@pytest.mark.feature("multi.ipc.shm", shape="multi")
def test_a_shared_memory_file_written_in_one_container_is_seen_in_another(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("ipc")
    writer, reader = make_container(pod, "writer"), make_container(pod, "reader")
    probes.shell_in(cri, writer.id, "echo shared-through-ipc > /dev/shm/conformance")
    assert probes.read_file_in(cri, reader.id, "/dev/shm/conformance") == "shared-through-ipc\n"


@pytest.mark.feature("multi.uts.hostname", shape="multi")
def test_every_container_has_the_pods_hostname(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("uts", hostname="shared-hostname")
    containers = [make_container(pod, name) for name in ("one", "two", "three")]
    assert {probes.hostname_in(cri, container.id) for container in containers} == {
        "shared-hostname"
    }


@pytest.mark.feature("multi.uts.default-hostname", shape="multi")
def test_without_a_hostname_the_containers_still_agree_on_one(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    names = seen_in_two_containers(make_pod("uts-default"), make_container, probes.hostname_in, cri)
    assert len(names) == 1, f"the containers of one pod have different hostnames: {names}"
    assert names.pop(), "the containers have an empty hostname"


@pytest.mark.feature("multi.uts.namespace", shape="multi")
def test_the_containers_share_one_uts_namespace(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    """Equal hostnames are not enough: a hostname set in one container must reach the others."""
    uts = functools.partial(probes.namespace_link, kind="uts")
    links = seen_in_two_containers(make_pod("uts-namespace"), make_container, uts, cri)
    assert len(links) == 1, f"the containers of one pod have different UTS namespaces: {links}"


@pytest.mark.feature("multi.pid.pod", shape="multi")
def test_with_pid_pod_the_containers_see_each_others_processes(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("pid-pod")
    first = sleeper(make_container, pod, "first", 100001, api.POD)
    second = sleeper(make_container, pod, "second", 100002, api.POD)
    assert sees(cri, first, 100002), "a pid=POD container does not see its pod mate's process"
    assert sees(cri, second, 100001), "a pid=POD container does not see its pod mate's process"
    assert probes.init_argv_in(cri, first.id) == probes.init_argv_in(cri, second.id)


@pytest.mark.feature("multi.pid.container", shape="multi")
def test_with_pid_container_each_container_sees_only_its_own_processes(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("pid-container")
    first = sleeper(make_container, pod, "first", 100011, api.CONTAINER)
    second = sleeper(make_container, pod, "second", 100012, api.CONTAINER)
    assert not sees(cri, first, 100012), "a pid=CONTAINER container sees another's process"
    assert not sees(cri, second, 100011), "a pid=CONTAINER container sees another's process"
    assert probes.init_argv_in(cri, first.id) == ["sleep", "100011"]
    assert probes.init_argv_in(cri, second.id) == ["sleep", "100012"]


@pytest.mark.feature("multi.pid.target", shape="multi")
def test_with_pid_target_a_container_joins_another_containers_pid_namespace(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("pid-target")
    target = sleeper(make_container, pod, "target", 100021, api.CONTAINER)
    joiner = sleeper(make_container, pod, "joiner", 100022, api.TARGET, target=target.id)
    bystander = sleeper(make_container, pod, "bystander", 100023, api.CONTAINER)
    assert probes.init_argv_in(cri, joiner.id) == ["sleep", "100021"]
    assert sees(cri, target, 100022), "the target does not see the process that joined it"
    assert not sees(cri, joiner, 100023)
    assert not sees(cri, bystander, 100022)
