"""Namespace options: host network, PID and IPC namespaces against the pod's own, and a PID
namespace of the container's own. The runtime runs on this machine, so the host side of each
comparison is this process's namespaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api

from harness import host
from harness.client import CriClient
from harness.factories import Container, ContainerFactory, PodFactory
from harness.probes import exec_ok, namespace_link
from harness.security import namespaces, pod_security, secured


def in_namespaces(
    make_pod: PodFactory, make_container: ContainerFactory, **modes: int
) -> Container:
    """A container whose pod and itself use ``modes``, as the kubelet sets both."""
    options = namespaces(**modes)
    pod = make_pod(linux=pod_security(namespace_options=options))
    return make_container(pod, linux=secured(namespace_options=options))


def interfaces_inside(cri: CriClient, container: Container) -> set[str]:
    table = exec_ok(cri, container, "cat", "/proc/net/dev").splitlines()[2:]
    return {line.split(":", 1)[0].strip() for line in table}


def process_cmdline_inside(cri: CriClient, container: Container, pid: int) -> str:
    """The command line of ``pid`` as seen inside ('' when there is no such process)."""
    return exec_ok(cri, container, "sh", "-c", f"cat /proc/{pid}/cmdline 2>/dev/null; true")


@pytest.mark.feature("security.namespaces.host-network")
def test_a_host_network_container_is_in_the_hosts_network_namespace(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    container = in_namespaces(make_pod, make_container, network=api.NODE)
    assert namespace_link(cri, container, "net") == host.namespace("net")
    # Pods come and go meanwhile, with their veths: one may live only between the two host
    # snapshots. Such churn is brief and independent of the runtime, so the comparison is
    # taken again; a container in a namespace of its own sees another set every time.
    for _ in range(5):
        before = host.interfaces()
        inside = interfaces_inside(cri, container)
        after = host.interfaces()
        if before & after <= inside <= before | after:
            return
    raise AssertionError(
        f"the container sees interfaces {sorted(inside)}, the host has {sorted(before & after)}"
    )


@pytest.mark.feature("security.namespaces.pod-network")
def test_a_default_container_has_a_network_namespace_of_its_pod(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    container = in_namespaces(make_pod, make_container, network=api.POD)
    assert namespace_link(cri, container, "net") != host.namespace("net")
    assert "lo" in interfaces_inside(cri, container)


@pytest.mark.feature("security.namespaces.host-pid")
def test_a_host_pid_container_sees_the_hosts_processes(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    container = in_namespaces(make_pod, make_container, pid=api.NODE)
    assert namespace_link(cri, container, "pid") == host.namespace("pid")
    mine = Path("/proc/self/cmdline").read_text()
    assert process_cmdline_inside(cri, container, os.getpid()) == mine


@pytest.mark.feature("security.namespaces.pod-pid")
def test_a_pod_pid_container_does_not_see_the_hosts_processes(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    container = in_namespaces(make_pod, make_container, pid=api.POD)
    assert namespace_link(cri, container, "pid") != host.namespace("pid")
    mine = Path("/proc/self/cmdline").read_text()
    assert process_cmdline_inside(cri, container, os.getpid()) != mine


@pytest.mark.feature("security.namespaces.container-pid")
def test_a_container_pid_namespace_makes_the_container_process_pid_1(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    container = in_namespaces(make_pod, make_container, pid=api.CONTAINER)
    first = exec_ok(cri, container, "cat", "/proc/1/cmdline")
    assert first == "sleep\x003600\x00", f"PID 1 is {first!r}, not the container's process"


@pytest.mark.parametrize(
    ("mode", "shared"),
    [
        pytest.param(api.NODE, True, marks=pytest.mark.feature("security.namespaces.host-ipc")),
        pytest.param(api.POD, False, marks=pytest.mark.feature("security.namespaces.pod-ipc")),
    ],
)
def test_host_ipc_shares_the_hosts_shared_memory_and_pod_ipc_does_not(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, mode: int, shared: bool
) -> None:
    reason = host.tool_missing("ipcmk", "ipcrm")
    if reason:
        pytest.skip(reason)
    container = in_namespaces(make_pod, make_container, ipc=mode)
    assert (namespace_link(cri, container, "ipc") == host.namespace("ipc")) is shared
    with host.shared_memory_segment() as key:
        keys = host.shared_memory_keys(exec_ok(cri, container, "cat", "/proc/sysvipc/shm"))
        assert (key in keys) is shared, (
            f"a shared memory segment made on the host {'is not' if shared else 'is'} "
            "visible inside"
        )
