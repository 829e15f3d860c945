"""Privileged containers, as the CRI defines them: all capabilities, procfs and sysfs mounted
read-write, no seccomp, no masked paths, every host device; and a default container has
none of that. A privileged container needs a privileged pod."""

from __future__ import annotations

import os

import pytest
from cri_api.v1 import api_pb2 as api

from harness import host
from harness.capabilities import difference
from harness.client import CriClient
from harness.factories import Container, ContainerFactory, PodFactory
from harness.probes import (
    capability_sets,
    exec_fails,
    exec_ok,
    mount_options,
    read_proc_status,
    shell_in,
)
from harness.security import (
    KUBELET_MASKED_PATHS,
    KUBELET_READONLY_PATHS,
    pod_security,
    secured,
    security_profile,
)


def privileged_container(make_pod: PodFactory, make_container: ContainerFactory) -> Container:
    """Privileged, yet asking for what privileged mode must override, as a kubelet may."""
    linux = secured(
        privileged=True,
        seccomp=security_profile(api.SecurityProfile.RuntimeDefault),
        masked_paths=list(KUBELET_MASKED_PATHS),
        readonly_paths=list(KUBELET_READONLY_PATHS),
    )
    return make_container(make_pod(linux=pod_security(privileged=True)), linux=linux)


def host_block_devices() -> set[str]:
    return {name for name in os.listdir("/sys/block") if os.path.exists(f"/dev/{name}")}


@pytest.mark.feature("security.privileged.capabilities")
def test_a_privileged_container_holds_every_capability_of_the_host(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    container = privileged_container(make_pod, make_container)
    sets, wanted = capability_sets(cri, container), host.bounding_capabilities()
    for name in ("CapEff", "CapBnd"):
        assert sets[name] == wanted, difference(name, sets[name], wanted)
    shell_in(cri, container, "mkdir -p /mnt && mount -t tmpfs tmpfs /mnt")


@pytest.mark.feature("security.privileged.devices")
def test_a_privileged_container_sees_the_host_devices(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    devices = host_block_devices()
    if not devices:
        pytest.skip("this host has no block device in /dev to look for")
    container = privileged_container(make_pod, make_container)
    seen = set(exec_ok(cri, container, "ls", "/dev").split())
    assert devices <= seen, f"host block devices missing inside: {sorted(devices - seen)}"


@pytest.mark.feature("security.privileged.no-seccomp")
def test_a_privileged_container_runs_without_seccomp_even_when_one_is_asked_for(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    container = privileged_container(make_pod, make_container)
    assert read_proc_status(cri, container)["Seccomp"] == "0"


@pytest.mark.feature("security.privileged.writable-proc-sys")
def test_a_privileged_container_has_procfs_and_sysfs_read_write_and_nothing_masked(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    container = privileged_container(make_pod, make_container)
    assert "rw" in mount_options(cri, container, "/sys")
    shell_in(cri, container, "echo privileged > /proc/sys/kernel/domainname")
    assert exec_ok(cri, container, "cat", "/proc/sys/kernel/domainname") == "privileged\n"
    assert exec_ok(cri, container, "sh", "-c", "wc -c < /proc/timer_list").strip() != "0", (
        "/proc/timer_list is masked in a privileged container"
    )


@pytest.mark.feature("security.unprivileged")
def test_a_default_container_sees_no_host_block_device_and_a_read_only_sysfs(
    cri: CriClient, shared_container: Container
) -> None:
    seen = set(exec_ok(cri, shared_container, "ls", "/dev").split())
    assert host_block_devices() & seen == set()
    assert "ro" in mount_options(cri, shared_container, "/sys")
    exec_fails(cri, shared_container, "sh", "-c", "mkdir -p /mnt && mount -t tmpfs tmpfs /mnt")
