"""Devices in a container: the ones every container gets (the OCI runtime spec's default devices
and /dev links, which workloads take for granted: nginx logs to /dev/stdout), and host devices
given to it, which appear where asked with the access asked."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.cri_logs import log_file, read_records
from harness.factories import Container, ContainerFactory, Pod
from harness.probes import exec_in, exec_ok, shell_in
from harness.security import secured, uid
from harness.waiting import wait_for_exit

# /dev/fuse is harmless to open and is outside the device allow-list runtimes start from,
# so the access given is the only thing that lets a process open it.
FUSE = Path("/dev/fuse")
DISK_BYTES = 1 << 20  # the loop device's backing file: 1 MiB, as small as a disk worth reading
# The OCI runtime spec (runtime-linux.md, "Default Devices"): the nodes every container gets,
# with the numbers Linux gives them (Documentation/admin-guide/devices.txt).
DEFAULT_DEVICES = {
    "/dev/null": "1:3", "/dev/zero": "1:5", "/dev/full": "1:7", "/dev/random": "1:8",
    "/dev/urandom": "1:9", "/dev/tty": "5:0",
}  # fmt: skip
# The same page, "Dev symbolic links": made once the mounts are, when /proc/self/fd exists.
STDIO_LINKS = {
    "/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
    "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2",
}  # fmt: skip


@pytest.mark.feature("container.devices.default")
def test_every_container_gets_the_default_devices_and_they_work(
    cri: CriClient, shared_container: Container
) -> None:
    nodes = exec_ok(cri, shared_container, "stat", "-L", "-c", "%n %F %t:%T", *DEFAULT_DEVICES)
    seen = {path: rest for path, _, rest in (line.partition(" ") for line in nodes.splitlines())}
    expected = {
        path: f"character special file {int(major):x}:{int(minor):x}"
        for path, (major, _, minor) in ((p, n.partition(":")) for p, n in DEFAULT_DEVICES.items())
    }
    assert seen == expected
    # They behave as those devices: null swallows, zero reads zeros, full refuses writes.
    assert shell_in(
        cri, shared_container,
        "echo gone > /dev/null && head -c 3 /dev/zero | od -An -tx1 && head -c 16 /dev/urandom"
        " | wc -c && if echo x > /dev/full; then echo full-took-it; else echo full-refused; fi",
    ).split() == ["00", "00", "00", "16", "full-refused"]  # fmt: skip
    ptmx = shell_in(cri, shared_container, "stat -c '%F %t:%T' /dev/ptmx; readlink /dev/ptmx; :")
    assert ptmx.split("\n")[0] == "character special file 5:2" or "pts/ptmx" in ptmx, (
        f"/dev/ptmx is neither the terminal multiplexer nor a link to pts/ptmx: {ptmx!r}"
    )


@pytest.mark.parametrize("user", [None, 1000], ids=["root", "uid-1000"])
@pytest.mark.feature("container.devices.stdio-links")
def test_the_dev_links_lead_to_the_process_own_descriptors(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, user: int | None
) -> None:
    # Written through the links, the lines must reach the container's log on their streams
    # (each stream's order is kept; between the two, the runtime may read either pipe first).
    links = " ".join(STDIO_LINKS)
    container = make_container(
        shared_pod,
        command=["sh", "-c", f"for link in {links}; do readlink $link; done; "
                 "echo via-stdout > /dev/stdout; echo via-stderr > /dev/stderr"],
        # runc gives the process its stdio (fixStdioPermissions): a user that is not root
        # reopens them through the links too
        linux=secured(run_as_user=uid(user)) if user is not None else secured(),
    )  # fmt: skip
    wait_for_exit(cri, container.id)
    records = read_records(log_file(container))
    streams = {name: [r.text for r in records if r.stream == name] for name in ("stdout", "stderr")}
    assert streams == {"stdout": [*STDIO_LINKS.values(), "via-stdout"], "stderr": ["via-stderr"]}


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


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[tuple[Path, bytes]]:
    """A loop device of this test's own over a file that starts with a random label: a block
    device whose data only the host knows, detached after (never one the test did not attach)."""
    label = f"cri-conformance-{secrets.token_hex(8)}".encode()
    backing = tmp_path / "disk.img"
    backing.write_bytes(label + bytes(DISK_BYTES - len(label)))
    attached = subprocess.run(
        ["losetup", "--find", "--show", str(backing)], capture_output=True, text=True, check=False
    )
    if attached.returncode != 0:
        pytest.skip(f"this host cannot attach a loop device: {attached.stderr.strip()}")
    device = Path(attached.stdout.strip())
    try:
        yield device, label
    finally:
        subprocess.run(["losetup", "--detach", str(device)], check=False)


@pytest.mark.feature("container.devices.block")
def test_a_host_block_device_reads_the_host_data_and_takes_writes(
    cri: CriClient,
    shared_pod: Pod,
    make_container: ContainerFactory,
    loop_device: tuple[Path, bytes],
) -> None:
    host_path, label = loop_device
    device = api.Device(
        container_path="/dev/conformance-disk", host_path=str(host_path), permissions="rwm"
    )
    container = make_container(shared_pod, devices=[device])
    read = shell_in(cri, container, f"head -c {len(label)} /dev/conformance-disk")
    assert read.encode() == label, "the device does not hold the host device's data"
    written = secrets.token_hex(8)
    shell_in(
        cri, container,
        f"printf {written} | dd of=/dev/conformance-disk bs=512 seek=1 conv=notrunc,fsync",
    )  # fmt: skip
    with host_path.open("rb") as disk:
        disk.seek(512)
        seen = disk.read(len(written))
    assert seen == written.encode(), "a write in the container did not reach the host device"
