"""Linux pod settings: sysctls and the cgroup parent (seen inside the pod), namespace options
(read back in status)."""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as api

from harness.cgroups import assert_under_cgroup_parent
from harness.client import CriClient
from harness.factories import ContainerFactory, PodFactory
from harness.probes import sysctl_in
from harness.pytest_plugin.container_fixtures import CgroupPodFactory


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param(
            "net.ipv4.ip_unprivileged_port_start",
            "543",
            marks=pytest.mark.feature("pod.sysctls.network"),
        ),
        pytest.param("kernel.shm_rmid_forced", "1", marks=pytest.mark.feature("pod.sysctls.ipc")),
        pytest.param("fs.mqueue.msg_max", "100", marks=pytest.mark.feature("pod.sysctls.unsafe")),
    ],
)
def test_a_pod_sysctl_is_set_inside_the_pod(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, name: str, value: str
) -> None:
    pod = make_pod("sysctl", linux=api.LinuxPodSandboxConfig(sysctls={name: value}))
    seen = sysctl_in(cri, make_container(pod).id, name)
    assert seen == value, f"sysctl {name} is {seen!r} in the container, the pod asked for {value!r}"


@pytest.mark.feature("pod.cgroup-parent")
def test_the_pods_containers_run_under_its_cgroup_parent(
    cri: CriClient, make_cgroup_pod: CgroupPodFactory, make_container: ContainerFactory
) -> None:
    # api.proto LinuxPodSandboxConfig.cgroup_parent: "Parent cgroup of the PodSandbox. The
    # cgroupfs style syntax will be used, but the container runtime can convert it to systemd
    # semantics if needed." The parent is named in the syntax of the cgroup driver RuntimeConfig
    # advertises (cgroupfs when it has none), as critest does.
    pod = make_cgroup_pod("cgroup")
    container = make_container(pod)
    assert_under_cgroup_parent(
        cri, container, make_cgroup_pod.parent_of(pod), make_cgroup_pod.driver
    )


@pytest.mark.parametrize(
    "modes",
    [
        pytest.param(
            ("POD", "CONTAINER", "POD"), marks=pytest.mark.feature("pod.status.namespace-options")
        ),
        pytest.param(
            ("NODE", "NODE", "NODE"), marks=pytest.mark.feature("pod.status.namespace-options-node")
        ),
    ],
    ids=lambda modes: "-".join(modes).lower(),
)
def test_pod_status_reports_the_namespace_options_given(
    cri: CriClient, make_pod: PodFactory, modes: tuple[str, str, str]
) -> None:
    network, pid, ipc = (api.NamespaceMode.Value(mode) for mode in modes)
    options = api.NamespaceOption(network=network, pid=pid, ipc=ipc)
    context = api.LinuxSandboxSecurityContext(namespace_options=options)
    pod = make_pod("ns", linux=api.LinuxPodSandboxConfig(security_context=context))
    reported = cri.pod_status(pod.id).status.linux.namespaces.options
    names = tuple(
        api.NamespaceMode.Name(mode) for mode in (reported.network, reported.pid, reported.ipc)
    )
    assert names == modes, f"PodSandboxStatus namespace options (network, pid, ipc): {names}"
