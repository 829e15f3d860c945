"""The shim served over gRPC with ``--backend apple``, its CLI pointed at the double."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from apple_double import BUSYBOX, CliDouble, wait_for
from apple_shims import Shims, container_config, log_lines, pod_config, refused, vm_of
from cri_api.v1 import api_pb2 as cri

from harness.client import CallFailed, CriClient
from harness.embedded import EmbeddedShim
from harness.endpoints import Endpoints
from reference_shim.backends import resolve_backend
from reference_shim.launcher import ShimLauncher

PROFILES = Path(__file__).parents[3] / "fixtures" / "profiles"


def test_a_pod_and_its_container_over_grpc(shims: Shims, double: CliDouble, tmp_path: Path) -> None:
    client = shims.start()
    conditions = {c.type: c.status for c in client.status().status.conditions}
    assert conditions == {"RuntimeReady": True, "NetworkReady": True}
    image_id = client.pull_image(BUSYBOX)
    assert client.image_status(BUSYBOX).image.repo_tags == [BUSYBOX]
    config = pod_config(tmp_path)
    pod_id = client.run_pod(config)
    pod = client.pod_status(pod_id).status
    assert (pod.state, pod.network.ip) == (cri.SANDBOX_READY, "")  # its IP comes with its container
    container_id = client.create_container(pod_id, container_config(), config)
    assert client.container_status(container_id).status.state == cri.CONTAINER_CREATED
    assert client.container_status(container_id).status.image_id == image_id
    client.start_container(container_id)
    vm_id = vm_of(client, container_id)
    assert vm_id.startswith("webhost.")
    status = client.container_status(container_id).status
    assert status.state == cri.CONTAINER_RUNNING
    assert status.started_at > status.created_at
    vm_ip = double.cli().json("", "inspect", vm_id)[0]["status"]["networks"][0]["ipv4Address"]
    assert client.pod_status(pod_id).status.network.ip == vm_ip.split("/")[0]

    double.workload_prints(vm_id, "stdout", "hello\n")
    double.workload_prints(vm_id, "stderr", "oops\n")
    log = tmp_path / "logs" / "main.log"
    wait_for(lambda: len(log_lines(log)) == 2)
    assert sorted(log_lines(log)) == [(b"stderr", b"F", b"oops"), (b"stdout", b"F", b"hello")]
    double.reply_to_exec(["cat", "/etc/hostname"], stdout="webhost\n")
    assert (
        client.exec_sync(container_id, ["cat", "/etc/hostname"], timeout=10).stdout == b"webhost\n"
    )

    client.stop_container(container_id, timeout=5)
    status = client.container_status(container_id).status
    assert (status.state, status.exit_code, status.reason) == (cri.CONTAINER_EXITED, 143, "Error")
    assert status.finished_at >= status.started_at
    client.remove_container(container_id)
    assert vm_id not in double.containers()
    client.stop_pod(pod_id)
    assert client.pod_status(pod_id).status.state == cri.SANDBOX_NOTREADY
    client.remove_pod(pod_id)
    assert client.list_pods() == []
    # The pod's files go with its teardown, which runs after RemovePodSandbox answered.
    wait_for(lambda: list((tmp_path / "state" / "apple" / "pods").iterdir()) == [])


def test_reject_runs_containers_one_after_another_and_refuses_a_second_live_one(
    shims: Shims, double: CliDouble, tmp_path: Path
) -> None:
    """An init container exits before the next is created: each carries the pod in turn."""
    client = shims.start()
    client.pull_image(BUSYBOX)
    config = pod_config(tmp_path)
    pod_id = client.run_pod(config)
    init = client.create_container(pod_id, container_config("init"), config)
    client.start_container(init)
    double.workload_exits(vm_of(client, init), 0)
    wait_for(lambda: client.container_status(init).status.state == cri.CONTAINER_EXITED)
    app = client.create_container(pod_id, container_config("app"), config)
    client.start_container(app)
    app_ip = double.cli().json("", "inspect", vm_of(client, app))[0]["status"]["networks"][0]
    assert client.pod_status(pod_id).status.network.ip == app_ip["ipv4Address"].split("/")[0]
    with pytest.raises(CallFailed) as refusal:
        client.create_container(pod_id, container_config("sidecar"), config)
    assert refusal.value.code is grpc.StatusCode.UNIMPLEMENTED
    assert "one live container per pod" in refusal.value.details


def test_an_exit_while_the_shim_is_down_is_reported_after_its_restart(
    shims: Shims, double: CliDouble, tmp_path: Path
) -> None:
    client = shims.start()
    client.pull_image(BUSYBOX)
    config = pod_config(tmp_path)
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    client.start_container(container_id)
    vm_id = vm_of(client, container_id)
    shims.stop()
    double.workload_prints(vm_id, "stdout", "while nobody watched\n")
    double.workload_exits(vm_id, 42)
    client = shims.start()
    wait_for(lambda: client.container_status(container_id).status.state == cri.CONTAINER_EXITED)
    status = client.container_status(container_id).status
    assert (status.exit_code, status.reason) == (42, "Error")
    log = tmp_path / "logs" / "main.log"
    wait_for(lambda: (b"stdout", b"F", b"while nobody watched") in log_lines(log))
    assert client.pod_status(pod_id).status.state == cri.SANDBOX_READY


def test_what_apple_cannot_do_answers_unimplemented(shims: Shims, tmp_path: Path) -> None:
    client = shims.start()
    client.pull_image(BUSYBOX)
    sysctls = pod_config(tmp_path, "tuned")
    sysctls.linux.sysctls["net.core.somaxconn"] = "1024"
    with refused(grpc.StatusCode.UNIMPLEMENTED):
        client.run_pod(sysctls)
    config = pod_config(tmp_path)
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    with refused(grpc.StatusCode.UNIMPLEMENTED):
        client.update_container_resources(
            container_id, cri.LinuxContainerResources(memory_limit_in_bytes=512 * 1024 * 1024)
        )


def test_the_launcher_runs_the_shim_with_the_apple_backend(
    double: CliDouble, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONTAINER_APP_ROOT", str(double.root))
    with ShimLauncher(
        backend="apple", container_cli=double.path, state_dir=tmp_path / "state"
    ) as launcher:
        client = CriClient(Endpoints(launcher.endpoint, launcher.endpoint, "test"), timeout=30)
        client.connect()
        info = client.status(verbose=True)
        assert '"backend": "apple"' in info.info["info"]
        assert all(c.status for c in info.status.conditions)
        client.close()
    assert ["system", "status", "--format", "json"] in double.calls()


@pytest.mark.parametrize(
    ("platform", "has_cli", "expected"),
    [("darwin", True, "apple"), ("darwin", False, "docker"), ("linux", True, "docker")],
)
def test_backend_auto_is_apple_on_a_mac_with_the_cli(
    platform: str, has_cli: bool, expected: str, double: CliDouble
) -> None:
    cli = double.path if has_cli else "/nonexistent/container"
    assert resolve_backend("auto", platform=platform, cli=cli) == expected
    assert resolve_backend("docker", platform="darwin", cli=cli) == "docker"


def test_the_embedded_apple_shim_uses_its_own_profile_and_column() -> None:
    shim = EmbeddedShim(strategy="reject", backend="apple")
    assert shim.profile_name == shim.column_name == "reference-shim-apple-reject"
    assert (PROFILES / "reference-shim-apple-reject.yaml").exists()
    assert EmbeddedShim(strategy="reject", backend="docker").profile_name == "reference-shim-reject"
