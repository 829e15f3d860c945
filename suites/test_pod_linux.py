"""Linux pod settings: sysctls (seen inside the pod) and namespace options (read back in status)."""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.factories import ContainerFactory, PodFactory
from harness.probes import sysctl_in


def sysctl_seen_in_pod(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, name: str, value: str
) -> str:
    """Run a pod with one sysctl set, and read that sysctl from a container in it."""
    pod = make_pod("sysctl", linux=api.LinuxPodSandboxConfig(sysctls={name: value}))
    return sysctl_in(cri, make_container(pod).id, name)


def pod_with_namespaces(make_pod: PodFactory, options: api.NamespaceOption) -> str:
    context = api.LinuxSandboxSecurityContext(namespace_options=options)
    return make_pod("ns", linux=api.LinuxPodSandboxConfig(security_context=context)).id


@pytest.mark.feature("pod.sysctls.network")
def test_a_network_sysctl_is_set_in_the_pod(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    name, value = "net.ipv4.ip_unprivileged_port_start", "543"
    assert sysctl_seen_in_pod(cri, make_pod, make_container, name, value) == value


@pytest.mark.feature("pod.sysctls.ipc")
def test_an_ipc_sysctl_is_set_in_the_pod(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    name, value = "kernel.shm_rmid_forced", "1"
    assert sysctl_seen_in_pod(cri, make_pod, make_container, name, value) == value


@pytest.mark.feature("pod.sysctls.unsafe")
def test_an_unsafe_namespaced_sysctl_is_set_in_the_pod(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    name, value = "fs.mqueue.msg_max", "100"
    assert sysctl_seen_in_pod(cri, make_pod, make_container, name, value) == value


@pytest.mark.feature("pod.status.namespace-options")
def test_pod_status_reports_the_namespace_options_given(
    cri: CriClient, make_pod: PodFactory
) -> None:
    options = api.NamespaceOption(network=api.POD, pid=api.CONTAINER, ipc=api.POD)
    pod_id = pod_with_namespaces(make_pod, options)
    reported = cri.pod_status(pod_id).status.linux.namespaces.options
    assert (reported.network, reported.pid, reported.ipc) == (api.POD, api.CONTAINER, api.POD)


@pytest.mark.feature("pod.status.namespace-options-node")
def test_pod_status_reports_node_namespaces_for_a_host_namespaced_pod(
    cri: CriClient, make_pod: PodFactory
) -> None:
    options = api.NamespaceOption(network=api.NODE, pid=api.NODE, ipc=api.NODE)
    pod_id = pod_with_namespaces(make_pod, options)
    reported = cri.pod_status(pod_id).status.linux.namespaces.options
    assert (reported.network, reported.pid, reported.ipc) == (api.NODE, api.NODE, api.NODE)
