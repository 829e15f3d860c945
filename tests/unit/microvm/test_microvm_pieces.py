"""The microvm backend's pieces that need no VM: the initramfs archive, image names, the
agent's spec lines, users resolved in an image's files, and the refusals."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from reference_shim.backends.base import (
    MountSpec,
    Namespace,
    Placement,
    PortSpec,
    SecuritySpec,
    VmSpec,
)
from reference_shim.backends.microvm import backend, guest, translate
from reference_shim.backends.microvm.images import normalized
from reference_shim.backends.microvm.launch import Launch
from reference_shim.errors import InvalidArgument, Unimplemented


@pytest.mark.skipif(
    shutil.which("busybox") is None,
    reason="busybox is not installed: its cpio reads the archive back (scripts/services microvm)",
)
def test_the_initramfs_is_a_newc_archive_that_cpio_reads(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "vmlinuz-1").write_bytes(b"kernel")
    modules = tmp_path / "lib" / "modules" / "1" / "kernel"
    modules.mkdir(parents=True)
    for name in guest.INITRAMFS_MODULES:
        (modules / f"{name}.ko").write_bytes(name.encode())
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"\x7fELF busybox")
    archive = guest.initramfs_bytes(guest.GuestKernel(tmp_path), busybox)
    assert archive == guest.initramfs_bytes(guest.GuestKernel(tmp_path), busybox)
    listed = subprocess.run(
        ["busybox", "cpio", "-t"], input=archive, capture_output=True, check=True
    ).stdout.split()
    assert {b"init", b"bin/busybox", b"lib/modules/virtio_console.ko"} <= set(listed)
    assert {b"lib/modules/fuse.ko", b"lib/modules/virtiofs.ko"} <= set(listed)
    assert guest.agent_script().startswith(b"#!/bin/busybox sh")


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("library/busybox:1.0", "docker.io/library/busybox:1.0"),
        (
            "127.0.0.1:5000/cri-conformance/busybox:1.0",
            "127.0.0.1:5000/cri-conformance/busybox:1.0",
        ),
        ("localhost/x", "localhost/x:latest"),
        ("x/y@sha256:ab", "docker.io/x/y@sha256:ab"),
    ],
)
def test_image_names_are_normalized_as_containerd_does(reference: str, name: str) -> None:
    assert normalized(reference) == name


def test_the_spec_lines_carry_every_value_in_base64_and_round_trip_as_json() -> None:
    launch = Launch(
        argv=("sh", "-c", "echo 'a b'", ""), env=(("A", "x y"),), working_dir="/w d", uid=1, gid=2,
        hostname="h", readonly_rootfs=True, readonly_files=("/etc/hosts",),
        address="10.233.0.7/16",
    )  # fmt: skip
    lines = launch.lines()
    assert lines[-1] == "START"
    words = dict(line.split(" ", 1) for line in lines[:-1])
    argv = words["ARGV"].split(" ")
    assert argv[-1] == "-", "an empty argument is a word of its own"
    assert [base64.b64decode(w).decode() for w in argv[:-1]] == list(launch.argv[:-1])
    assert base64.b64decode(words["ENV"]).decode() == "A=x y"
    assert (words["USER"], words["ROOTFS"]) == ("1 2", "ro")
    assert words["NETWORK"] == "10.233.0.7/16"
    assert Launch.from_json(launch.to_json()) == launch


@pytest.mark.parametrize(
    ("placement", "own", "word"),
    [
        (Placement(inside="pod", shared=frozenset({Namespace.NETWORK})), True, "container"),
        (Placement(inside="pod", shared=frozenset({Namespace.PID})), False, "pod"),
        (Placement.own_vm("n"), True, "container"),
    ],
)
def test_only_a_pid_pod_container_in_the_pods_vm_shares_the_vms_pid_namespace(
    placement: Placement, own: bool, word: str
) -> None:
    assert translate.own_pid_namespace(placement) is own
    launch = Launch(
        argv=("true",), env=(), working_dir="/", uid=0, gid=0, hostname="",
        readonly_rootfs=False, readonly_files=(), own_pid_namespace=own,
    )  # fmt: skip
    assert f"PIDNS {word}" in launch.lines()
    assert Launch.from_json(launch.to_json()) == launch


def _image_root(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\nme:x:1234:99::/:/bin/sh\n")
    (tmp_path / "etc" / "group").write_text("root:x:0:\nstaff:x:50:\n")
    return tmp_path


@pytest.mark.parametrize(
    ("user", "ids"),
    [("", (0, 0)), ("me", (1234, 99)), ("1234", (1234, 99)), ("77", (77, 0)),
     ("me:staff", (1234, 50)), ("5:6", (5, 6))],
)  # fmt: skip
def test_users_resolve_in_the_image_files(tmp_path: Path, user: str, ids: tuple[int, int]) -> None:
    assert translate._ids(user, _image_root(tmp_path)) == ids


def test_an_unknown_user_name_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="nobody"):
        translate._ids("nobody", _image_root(tmp_path))


UNCONFINED = SecuritySpec(seccomp="unconfined")  # what a container asking for nothing gets


def _spec(**fields: object) -> VmSpec:
    base: dict[str, object] = {
        "name": "c", "image": "sha256:" + "a" * 64, "argv": ("true",), "labels": {},
        "placement": Placement.own_vm("n"), "security": UNCONFINED,
    }  # fmt: skip
    return VmSpec(**{**base, **fields})  # type: ignore[arg-type]  # fields: any of VmSpec's


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"ports": (PortSpec("sctp", 80, 8080),)}, r"SCTP host ports \[8080\]"),
        (
            {"security": SecuritySpec(seccomp="unconfined", apparmor="k8s-deny-write")},
            r"security_context\.apparmor.*k8s-deny-write",
        ),
    ],
)
def test_what_the_slice_cannot_honour_is_refused_naming_the_field(
    fields: dict[str, object], words: str
) -> None:
    with pytest.raises(Unimplemented, match=words):
        translate._refuse(_spec(**fields))


def test_a_pod_whose_cgroup_parent_climbs_out_is_refused_before_any_vm_exists() -> None:
    translate.refuse_pod_features(_spec(cgroup_parent="/kubepods/pod1"))
    with pytest.raises(InvalidArgument, match="cgroup_parent"):
        translate.refuse_pod_features(_spec(cgroup_parent="/kubepods/../../etc"))


@pytest.mark.parametrize(
    "security",
    [UNCONFINED, SecuritySpec(seccomp="unconfined", apparmor="unconfined")],
)
def test_fields_at_their_defaults_are_not_requests_and_are_accepted(
    security: SecuritySpec,
) -> None:
    translate._refuse(
        _spec(security=security, cgroup_parent="", mounts=(MountSpec(__file__, "/f"),))
    )


def test_not_ready_names_each_missing_host_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    present = {"qemu-system-x86_64", "mkfs.ext4"}
    monkeypatch.setattr(
        "reference_shim.backends.microvm.backend.shutil.which",
        lambda tool: f"/usr/bin/{tool}" if tool in present else None,
    )
    ready, why = backend.MicrovmBackend(tmp_path, "i").ready()
    assert not ready
    assert why.startswith("skopeo, umoci not installed")
