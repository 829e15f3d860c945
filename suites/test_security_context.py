"""Container security context: read-only root filesystem, no_new_privs, masked and
read-only paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.factories import Container, ContainerFactory, Pod
from harness.probes import (
    exec_fails,
    exec_ok,
    mount_options,
    mount_points_in,
    read_proc_status,
    shell_in,
)
from harness.security import KUBELET_MASKED_PATHS, KUBELET_READONLY_PATHS, secured


def with_data_mount(
    pod: Pod, make_container: ContainerFactory, data: Path, linux: api.LinuxContainerConfig
) -> Container:
    mount = api.Mount(container_path="/data", host_path=str(data))
    return make_container(pod, mounts=[mount], linux=linux)


def runtime_defaults_covered(cri: CriClient, container: Container) -> set[str]:
    """Which of the usual defaults of runtimes (the kubelet's lists) are mount points inside:
    a masked or read-only path is mounted over."""
    return mount_points_in(cri, container) & {*KUBELET_MASKED_PATHS, *KUBELET_READONLY_PATHS}


@pytest.mark.feature("security.readonly-rootfs")
def test_a_read_only_root_filesystem_refuses_writes_while_mounts_stay_writable(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    container = with_data_mount(shared_pod, make_container, tmp_path, secured(readonly_rootfs=True))
    refusal = exec_fails(cri, container, "touch", "/new-file")
    assert b"Read-only file system" in refusal.stderr
    assert "ro" in mount_options(cri, container, "/")
    shell_in(cri, container, "echo still-writable > /data/out")
    assert (tmp_path / "out").read_text() == "still-writable\n"


@pytest.mark.feature("security.readonly-rootfs-off")
def test_the_root_filesystem_is_writable_unless_asked_otherwise(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, linux=secured(readonly_rootfs=False))
    shell_in(cri, container, "echo written > /new-file")
    assert exec_ok(cri, container, "cat", "/new-file") == "written\n"
    assert "rw" in mount_options(cri, container, "/")


@pytest.mark.parametrize(
    ("no_new_privs", "flag"),
    [
        pytest.param(True, "1", marks=pytest.mark.feature("security.no-new-privs")),
        pytest.param(False, "0", marks=pytest.mark.feature("security.no-new-privs-off")),
    ],
)
def test_no_new_privs_sets_the_process_flag(
    cri: CriClient,
    shared_pod: Pod,
    make_container: ContainerFactory,
    no_new_privs: bool,
    flag: str,
) -> None:
    container = make_container(shared_pod, linux=secured(no_new_privs=no_new_privs))
    assert read_proc_status(cri, container)["NoNewPrivs"] == flag


@pytest.mark.feature("security.masked-paths")
def test_masked_paths_hide_the_files_and_directories_named(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_text("hidden\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "inside").write_text("hidden too\n")
    (tmp_path / "public").write_text("visible\n")
    linux = secured(masked_paths=["/data/secret", "/data/secrets"])
    container = with_data_mount(shared_pod, make_container, tmp_path, linux)
    assert exec_ok(cri, container, "cat", "/data/secret") == ""
    assert exec_ok(cri, container, "ls", "-A", "/data/secrets") == ""
    assert exec_ok(cri, container, "cat", "/data/public") == "visible\n"
    assert not runtime_defaults_covered(cri, container), "a runtime default was added"


@pytest.mark.feature("security.readonly-paths")
def test_readonly_paths_refuse_writes_below_them_only(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "open").mkdir()
    linux = secured(readonly_paths=["/data/locked"])
    container = with_data_mount(shared_pod, make_container, tmp_path, linux)
    refusal = exec_fails(cri, container, "touch", "/data/locked/file")
    assert b"Read-only file system" in refusal.stderr
    shell_in(cri, container, "touch /data/open/file")
    assert (tmp_path / "open" / "file").exists()


@pytest.mark.feature("security.masked-paths.kubelet-defaults")
def test_the_kubelet_default_masked_and_readonly_paths_protect_proc_and_sys(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    linux = secured(
        masked_paths=list(KUBELET_MASKED_PATHS), readonly_paths=list(KUBELET_READONLY_PATHS)
    )
    container = make_container(shared_pod, linux=linux)
    present = [path for path in KUBELET_MASKED_PATHS if Path(path).exists()]
    for path in present:
        listing = "ls -A" if Path(path).is_dir() else "cat"
        assert shell_in(cri, container, f"{listing} {path}") == "", f"{path} is not masked"
    refusal = exec_fails(cri, container, "sh", "-c", "echo x > /proc/sys/kernel/domainname")
    assert b"Read-only file system" in refusal.stderr
    assert "ro" in mount_options(cri, container, "/proc/sys")


@pytest.mark.feature("security.masked-paths.none")
def test_without_masked_and_readonly_paths_nothing_in_proc_and_sys_is_masked(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    """No runtime default is added: the list the config gives is the whole list."""
    container = make_container(shared_pod, linux=secured(masked_paths=[], readonly_paths=[]))
    covered = runtime_defaults_covered(cri, container)
    assert not covered, f"masked or read-only though the config names none: {sorted(covered)}"
