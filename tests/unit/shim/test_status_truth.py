"""What ContainerStatus and RuntimeConfig report comes from the workload and the backend, not
from the config the shim was given.

A runtime that echoes its input passes a suite that only reads status back; these pin that the
shim's status user is the process's (fake backend), and how the Docker backend reads it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import FakeBackend
from shim_helpers import container_config, pod_config

from harness.client import CriClient
from reference_shim.backends.base import ProcessUser
from reference_shim.backends.docker.processes import main_process_user, read_process_user
from reference_shim.backends.proc_status import parse_status

CONTAINER_ID = "c0ffee" * 10 + "abcd"
STATUS = (
    "Name:\tsh\nUid:\t1001\t1001\t1001\t1001\nGid:\t2346\t2346\t2346\t2346\nGroups:\t5001 5002 \n"
)


def run_as(uid: int, gid: int) -> cri.ContainerConfig:
    config = container_config()
    context = config.linux.security_context
    context.run_as_user.value, context.run_as_group.value = uid, gid
    return config


def started(client: CriClient, config: cri.ContainerConfig) -> str:
    pod = pod_config()
    container_id = client.create_container(client.run_pod(pod), config, pod)
    client.start_container(container_id)
    return container_id


def test_status_user_is_the_processs_not_the_configs(
    client: CriClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    process = ProcessUser(uid=7, gid=8, groups=(9, 8))
    monkeypatch.setattr(backend, "process_user", lambda vm_id: process)
    user = client.container_status(started(client, run_as(1000, 2000))).status.user.linux
    assert (user.uid, user.gid, list(user.supplemental_groups)) == (7, 8, [8, 9])


def test_status_user_of_a_root_process_without_groups_is_still_reported(
    client: CriClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend, "process_user", lambda vm_id: ProcessUser(0, 0, ()))
    status = client.container_status(started(client, container_config())).status
    assert status.user.HasField("linux")
    assert (status.user.linux.uid, list(status.user.linux.supplemental_groups)) == (0, [0])


def test_an_unseen_process_leaves_the_status_user_empty(
    client: CriClient, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend, "process_user", lambda vm_id: None)
    status = client.container_status(started(client, run_as(1000, 2000))).status
    assert not status.HasField("user"), "a user the shim never saw must not be made up"


def test_proc_status_gives_the_real_ids_and_the_supplementary_groups() -> None:
    assert parse_status(STATUS) == ProcessUser(uid=1001, gid=2346, groups=(5001, 5002))
    no_groups = STATUS.replace("Groups:\t5001 5002 ", "Groups:\t")
    assert parse_status(no_groups).groups == ()


def fake_proc(tmp_path: Path, pid: int, cgroup: str) -> Path:
    directory = tmp_path / str(pid)
    directory.mkdir()
    (directory / "status").write_text(STATUS)
    (directory / "cgroup").write_text(cgroup)
    return tmp_path


def test_a_process_is_read_only_when_its_cgroup_names_the_container(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, 41, f"4:memory:/docker/{CONTAINER_ID}\n")
    assert read_process_user(41, CONTAINER_ID, proc) == parse_status(STATUS)
    other = fake_proc(tmp_path, 42, "4:memory:/user.slice\n")  # a PID reused, or seen elsewhere
    assert read_process_user(42, CONTAINER_ID, other) is None
    assert read_process_user(43, CONTAINER_ID, proc) is None  # the process has ended


@pytest.mark.parametrize(
    ("driver", "advertised"), [("systemd", cri.SYSTEMD), ("cgroupfs", cri.CGROUPFS)]
)
def test_runtime_config_advertises_the_backends_cgroup_driver(
    client: CriClient,
    backend: FakeBackend,
    monkeypatch: pytest.MonkeyPatch,
    driver: str,
    advertised: int,
) -> None:
    monkeypatch.setattr(backend, "cgroup_driver", lambda: driver)
    assert client.runtime_config().linux.cgroup_driver == advertised


def test_only_a_running_containers_main_process_is_read(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, 41, f"0::/docker/{CONTAINER_ID}\n")
    running = {"Id": CONTAINER_ID, "State": {"Running": True, "Pid": 41}}
    assert main_process_user(running, proc) == parse_status(STATUS)
    exited = {"Id": CONTAINER_ID, "State": {"Running": False, "Pid": 0}}
    assert main_process_user(exited, proc) is None
