"""Host devices given to a container: the node appears where asked, with the access asked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.factories import ContainerFactory, Pod
from harness.probes import exec_in, exec_ok, shell_in

# /dev/fuse is harmless to open and is outside the device allow-list runtimes start from,
# so the access given is the only thing that lets a process open it.
FUSE = Path("/dev/fuse")


@pytest.mark.feature("container.devices.mapped")
def test_a_host_device_appears_at_the_container_path_as_the_same_device(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    device = api.Device(
        container_path="/dev/conformance-zero", host_path="/dev/zero", permissions="rwm"
    )
    container = make_container(shared_pod, devices=[device])
    host = os.stat("/dev/zero").st_rdev
    expected = f"{os.major(host):x}:{os.minor(host):x}\n"
    assert exec_ok(cri, container, "stat", "-c", "%t:%T", "/dev/conformance-zero") == expected
    assert shell_in(cri, container, "head -c 4 /dev/conformance-zero | od -An -tx1") == (
        " 00 00 00 00\n"
    )


@pytest.mark.parametrize(
    ("permissions", "writable"),
    [
        pytest.param("r", False, marks=pytest.mark.feature("container.devices.read-only")),
        pytest.param("rw", True, marks=pytest.mark.feature("container.devices.read-write")),
    ],
)
def test_a_device_opens_for_writing_only_with_write_permission(
    cri: CriClient,
    shared_pod: Pod,
    make_container: ContainerFactory,
    permissions: str,
    writable: bool,
) -> None:
    if not FUSE.exists():
        pytest.skip(f"{FUSE} is missing on this host (fuse module not loaded)")
    device = api.Device(container_path="/dev/given", host_path=str(FUSE), permissions=permissions)
    container = make_container(shared_pod, devices=[device])
    shell_in(cri, container, "exec 3< /dev/given")
    opened = exec_in(cri, container, "sh", "-c", "exec 4> /dev/given")
    assert (opened.exit_code == 0) is writable, (
        f"with permissions {permissions!r}, opening the device for writing "
        + ("failed: " + opened.stderr.decode() if writable else "succeeded")
    )
    if not writable:
        assert b"Operation not permitted" in opened.stderr
