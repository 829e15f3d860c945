"""The reference shim against the real Docker Engine: what is set is what the workload sees."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from docker_shim import Launch, connect, run_container, shell, wait_for

from harness.client import CallFailed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_workload_sees_its_config(
    launch: Launch, pod_config: cri.PodSandboxConfig, tmp_path: Path
) -> None:
    client = connect(launch())
    pod_config.dns_config.CopyFrom(
        cri.DNSConfig(servers=["10.10.10.10"], searches=["e.test"], options=["ndots:3"])
    )
    host_port = free_port()
    pod_config.port_mappings.append(
        cri.PortMapping(container_port=8080, host_port=host_port, host_ip="127.0.0.1")
    )
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_text("from host")
    config = shell("echo ready; httpd -f -p 8080 -h /srv")
    config.working_dir = "/srv"
    config.envs.append(cri.KeyValue(key="GREETING", value="hello world"))
    config.mounts.append(cri.Mount(container_path="/srv", host_path=str(shared)))
    config.mounts.append(cri.Mount(container_path="/ro", host_path=str(shared), readonly=True))
    config.linux.security_context.run_as_user.value = 1234
    config.linux.security_context.run_as_group.value = 2345
    _, container_id = run_container(client, pod_config, config)

    def run(*argv: str) -> str:
        result = client.exec_sync(container_id, list(argv), timeout=10)
        assert result.exit_code == 0, result.stderr
        return result.stdout.decode()

    assert run("hostname") == "webhost\n"
    assert run("cat", "/etc/resolv.conf") == (
        "search e.test\nnameserver 10.10.10.10\noptions ndots:3\n"
    )
    assert run("sh", "-c", "echo $GREETING; pwd; id -u; id -g") == "hello world\n/srv\n1234\n2345\n"
    assert run("cat", "/srv/in.txt") == "from host"
    failed = client.exec_sync(container_id, ["sh", "-c", "echo x > /ro/new"], timeout=10)
    assert failed.exit_code != 0
    assert b"Read-only" in failed.stderr
    with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/in.txt", timeout=10) as answer:
        assert answer.read() == b"from host"


def test_logs_are_in_cri_format_with_long_lines_split(
    launch: Launch, pod_config: cri.PodSandboxConfig, tmp_path: Path
) -> None:
    client = connect(launch())
    script = "echo out; echo err >&2; head -c 20000 /dev/zero | tr '\\0' x; echo; exit 3"
    _, container_id = run_container(client, pod_config, shell(script))
    wait_for(lambda: client.container_status(container_id).status.state == cri.CONTAINER_EXITED)
    status = client.container_status(container_id).status
    assert (status.exit_code, status.reason) == (3, "Error")
    lines = Path(status.log_path).read_bytes().splitlines()
    parsed = [line.split(b" ", 3) for line in lines]
    assert {(stream, text) for _, stream, tag, text in parsed if tag == b"F" and len(text) < 9} == {
        (b"stdout", b"out"),
        (b"stderr", b"err"),
    }
    long_parts = [(tag, text) for _, stream, tag, text in parsed if text.startswith(b"xx")]
    assert [tag for tag, _ in long_parts][-1] == b"F"
    assert set(tag for tag, _ in long_parts[:-1]) == {b"P"}
    assert b"".join(text for _, text in long_parts) == b"x" * 20000


def test_exec_sync_timeout_is_deadline_exceeded(
    launch: Launch, pod_config: cri.PodSandboxConfig
) -> None:
    client = connect(launch())
    _, container_id = run_container(client, pod_config, shell("sleep 1000"))
    started = time.monotonic()
    deadline = pytest.raises(
        CallFailed, check=lambda error: error.code is grpc.StatusCode.DEADLINE_EXCEEDED
    )
    with deadline:
        client.exec_sync(container_id, ["sleep", "30"], timeout=1)
    assert time.monotonic() - started < 10
    assert client.exec_sync(container_id, ["true"], timeout=5).exit_code == 0


def test_stats_and_metrics_lists_answer_while_pods_are_removed(
    launch: Launch, pod_config: cri.PodSandboxConfig
) -> None:
    """Docker answers an empty body for stats of a container it is removing; a list of every
    pod's stats or metrics must leave that VM out, not fail (other clients remove pods at will)."""
    client = connect(launch())
    failures: list[CallFailed] = []
    removed = threading.Event()

    def sample() -> None:
        while not removed.is_set():
            try:
                client.list_pod_metrics()
                client.list_pod_stats()
            except CallFailed as error:
                failures.append(error)

    for attempt in range(4):
        pod_config.metadata.attempt = attempt
        pod_id, _ = run_container(client, pod_config, shell("sleep 1000"))
        removed.clear()
        samplers = [threading.Thread(target=sample) for _ in range(3)]
        for sampler in samplers:
            sampler.start()
        time.sleep(0.3)
        client.remove_pod(pod_id)
        removed.set()
        for sampler in samplers:
            sampler.join()
    assert not failures, failures[0]
