"""Multi-container pods: volumes shared between containers, root filesystems not.

CRI has no emptyDir: the kubelet backs it with a host directory, so a host-path mount of the
same directory into several containers is how a pod shares files. Volumes and root filesystems
are the containers' own, so the tests run in the run's shared pod, the only containers in it
while the test runs (suites/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api

from harness import cri_logs, probes
from harness.client import CriClient
from harness.factories import ContainerFactory, Pod

APP_LOG_LINES = ["request 1 served", "request 2 served", "request 3 served"]


def volume(host_dir: Path, container_path: str, readonly: bool = False) -> list[api.Mount]:
    return [api.Mount(container_path=container_path, host_path=str(host_dir), readonly=readonly)]


@pytest.mark.feature("multi.volumes.shared-host-path", shape="multi")
def test_files_written_in_one_container_are_read_in_another(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    pod = shared_pod
    first = make_container(pod, "first", mounts=volume(tmp_path, "/shared"))
    second = make_container(pod, "second", mounts=volume(tmp_path, "/data"))
    probes.shell_in(cri, first.id, "echo from-first > /shared/first.txt")
    probes.shell_in(cri, second.id, "echo from-second > /data/second.txt")
    assert probes.read_file_in(cri, second.id, "/data/first.txt") == "from-first\n"
    assert probes.read_file_in(cri, first.id, "/shared/second.txt") == "from-second\n"
    assert (tmp_path / "second.txt").read_text() == "from-second\n"


@pytest.mark.feature("multi.volumes.read-only-in-one", shape="multi")
def test_a_volume_read_only_in_one_container_stays_writable_in_another(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    pod = shared_pod
    writer = make_container(pod, "writer", mounts=volume(tmp_path, "/shared"))
    reader = make_container(pod, "reader", mounts=volume(tmp_path, "/shared", readonly=True))
    assert probes.exit_code_in(cri, reader.id, "echo no > /shared/denied") != 0
    assert not (tmp_path / "denied").exists()
    probes.shell_in(cri, writer.id, "echo allowed > /shared/allowed")
    assert probes.read_file_in(cri, reader.id, "/shared/allowed") == "allowed\n"


@pytest.mark.feature("multi.volumes.sidecar-log", shape="multi")
def test_a_sidecar_streams_the_main_containers_log_file_through_a_shared_volume(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    pod = shared_pod
    writes = "; ".join(f"echo '{line}' >> /var/log/app/app.log" for line in APP_LOG_LINES)
    main = make_container(
        pod,
        "main",
        command=["sh", "-c", f"{writes}; echo main-started; sleep 3600"],
        mounts=volume(tmp_path, "/var/log/app"),
    )
    sidecar = make_container(
        pod,
        "sidecar",
        command=["tail", "-n", "+1", "-F", "/logs/app.log"],
        mounts=volume(tmp_path, "/logs", readonly=True),
    )
    for line in APP_LOG_LINES:
        cri_logs.wait_for_line(sidecar, line)
    assert cri_logs.wait_for_line(sidecar, APP_LOG_LINES[-1])[-3:] == APP_LOG_LINES
    main_lines = cri_logs.wait_for_line(main, "main-started")
    assert not set(APP_LOG_LINES) & set(main_lines), "the main container's file went to its log"


@pytest.mark.feature("multi.volumes.separate-rootfs", shape="multi")
def test_each_container_has_its_own_root_filesystem(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    pod = shared_pod
    first, second = make_container(pod, "first"), make_container(pod, "second")
    probes.shell_in(cri, first.id, "echo mine > /tmp/private && echo first > /etc/whoami")
    assert probes.exit_code_in(cri, second.id, "test -e /tmp/private") != 0
    assert probes.exit_code_in(cri, second.id, "test -e /etc/whoami") != 0
    assert probes.read_file_in(cri, first.id, "/tmp/private") == "mine\n"
