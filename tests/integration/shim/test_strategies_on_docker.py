"""The multi-container strategies on the real Docker Engine, seen from inside the containers."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import docker
from cri_api.v1 import api_pb2 as cri
from docker_shim import BUSYBOX, Launch, connect, instance_of, shell, wait_for

from harness.client import CriClient
from reference_shim.backends.labels import POD_ID_LABEL, owner_filter

WEBSERVER = "127.0.0.1:5000/cri-conformance/webserver:1.0"
PAGE = b"cri-conformance web server\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(
    client: CriClient, pod_id: str, pod: cri.PodSandboxConfig, config: cri.ContainerConfig
) -> str:
    container_id = client.create_container(pod_id, config, pod)
    client.start_container(container_id)
    return container_id


def webserver(name: str = "web") -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name), image=cri.ImageSpec(image=WEBSERVER)
    )


def run_in(client: CriClient, container_id: str, script: str) -> str:
    result = client.exec_sync(container_id, ["sh", "-c", script], timeout=20)
    assert result.exit_code == 0, result.stderr
    return result.stdout.decode()


def addresses(client: CriClient, container_id: str) -> set[str]:
    output = run_in(client, container_id, "ip -o -4 addr show scope global")
    return {line.split()[3].split("/")[0] for line in output.splitlines()}


def fetch(client: CriClient, container_id: str, url: str) -> bytes | None:
    result = client.exec_sync(container_id, ["wget", "-qO-", url], timeout=20)
    return result.stdout if result.exit_code == 0 else None


def test_shared_vm_containers_share_localhost_ip_hostname_and_shm(
    launch: Launch, pod_config: cri.PodSandboxConfig
) -> None:
    client = connect(launch("shared-vm"))
    for image in (BUSYBOX, WEBSERVER):
        client.pull_image(image)
    pod_id = client.run_pod(pod_config)
    web = start(client, pod_id, pod_config, webserver())
    other = start(client, pod_id, pod_config, shell("sleep 3600", "other"))
    wait_for(lambda: fetch(client, other, "http://127.0.0.1/") == PAGE)
    pod_ip = client.pod_status(pod_id).status.network.ip
    assert addresses(client, web) == addresses(client, other) == {pod_ip}
    assert run_in(client, web, "hostname") == run_in(client, other, "hostname") == "webhost\n"
    run_in(client, other, "echo through-ipc > /dev/shm/probe")
    assert run_in(client, web, "cat /dev/shm/probe") == "through-ipc\n"


def test_separate_vms_have_their_own_ips_on_a_pod_network_and_share_host_paths(
    launch: Launch, pod_config: cri.PodSandboxConfig, tmp_path: Path, docker_api: docker.APIClient
) -> None:
    launcher = launch("separate-vms")
    client = connect(launcher)
    for image in (BUSYBOX, WEBSERVER):
        client.pull_image(image)
    host_port = free_port()
    pod_config.port_mappings.append(
        cri.PortMapping(container_port=80, host_port=host_port, host_ip="127.0.0.1")
    )
    shared = tmp_path / "shared"
    shared.mkdir()
    volume = cri.Mount(container_path="/shared", host_path=str(shared))
    pod_id = client.run_pod(pod_config)
    first_config = shell("sleep 3600", "first")
    first_config.mounts.append(volume)
    first = start(client, pod_id, pod_config, first_config)
    web_config = webserver()
    web_config.mounts.append(volume)
    web = start(client, pod_id, pod_config, web_config)

    pod_ip = client.pod_status(pod_id).status.network.ip
    web_info = json.loads(client.container_status(web, verbose=True).info["info"])
    assert addresses(client, first) == {pod_ip}, "the first container runs in the pod VM"
    assert addresses(client, web) == {web_info["vm_ip"]} != {pod_ip}
    assert run_in(client, web, "hostname") == "webhost\n"
    run_in(client, first, "echo from-first > /shared/a")
    run_in(client, web, "echo from-web > /shared/b")
    assert run_in(client, web, "cat /shared/a") == "from-first\n"
    assert run_in(client, first, "cat /shared/b") == "from-web\n"
    assert fetch(client, first, "http://127.0.0.1/") is None, "localhost is not shared"
    assert fetch(client, first, f"http://{web_info['vm_ip']}/") == PAGE
    with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=10) as answer:
        assert answer.read() == PAGE, "the host port reaches the VM that listens"

    instance = instance_of(launcher.state_dir)
    label = [f"{POD_ID_LABEL}={pod_id}", owner_filter(instance)]
    (network,) = docker_api.networks(filters={"label": label})
    attached = docker_api.inspect_network(network["Id"])["Containers"]
    assert len(attached) == 2, "the pod VM and the web VM are on the pod's network"
    client.stop_pod(pod_id)
    client.remove_pod(pod_id)
    assert client.list_pods() == []
    # the pod's teardown removes its VMs, then its network, after RemovePodSandbox answered
    wait_for(lambda: docker_api.networks(filters={"label": label}) == [])
    assert docker_api.containers(all=True, filters={"label": label}) == []
