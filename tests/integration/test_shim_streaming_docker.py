"""The shim's streaming server on the Docker backend's primitives, against the real Engine.

Containers stand in for the shim's VMs (the shim's own VM bookkeeping is not needed to test
exec, attach and port forwarding); each is labelled with this test run and removed after.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
from cri_api.v1 import api_pb2 as cri

from harness.streaming import StreamOptions, Transport, connect_remote_command
from harness.streaming.probes import (
    ATTACH_PROBE,
    converse_with_attach_probe,
    expected_terminal_size,
    terminal_size_probe,
)
from harness.streaming.spdy_client import SpdyPortForward
from harness.streaming.websocket_client import WebSocketPortForward
from reference_shim.backends.docker.streaming import DockerStreaming
from reference_shim.streaming.server import StreamingServer
from reference_shim.streaming.tokens import Kind

DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///var/tmp/cri-conformance/docker/docker.sock")
BUSYBOX = "127.0.0.1:5000/cri-conformance/busybox:1.0"
WEBSERVER = "127.0.0.1:5000/cri-conformance/webserver:1.0"
LABEL = "cri-conformance.io/test"
TIMEOUT = 20.0

Start = Callable[..., Any]


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=DOCKER_HOST)
    for image in (BUSYBOX, WEBSERVER):
        client.images.pull(image)
    yield client
    client.close()


@pytest.fixture
def start_vm(engine: docker.DockerClient) -> Iterator[Start]:
    """Run a labelled container; every one is removed when the test ends."""
    run = f"shim-streaming-{secrets.token_hex(4)}"
    started: list[Any] = []

    def start(image: str = BUSYBOX, command: list[str] | None = None, **options: Any) -> Any:
        container = engine.containers.run(
            image, command, detach=True, labels={LABEL: run}, **options
        )
        started.append(container)
        return container

    yield start
    for container in started:
        container.remove(force=True)


@pytest.fixture(scope="module")
def server() -> Iterator[StreamingServer]:
    streaming = StreamingServer(DockerStreaming(DOCKER_HOST)).start()
    yield streaming
    streaming.stop()


def exec_session(server: StreamingServer, vm: Any, transport: Transport, **request: Any) -> Any:
    exec_request = cri.ExecRequest(container_id="c", **request)
    url = server.url(Kind.EXEC, exec_request, vm.id)
    return connect_remote_command(url, transport, StreamOptions.of(exec_request), TIMEOUT)


@pytest.mark.parametrize("transport", list(Transport))
def test_exec_output_and_exit_code(
    server: StreamingServer, start_vm: Start, transport: Transport
) -> None:
    vm = start_vm(command=["sleep", "300"])
    cmd = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    with exec_session(server, vm, transport, cmd=cmd, stdout=True, stderr=True) as session:
        result = session.wait()
    assert (result.stdout, result.stderr, result.exit_code) == (b"out\n", b"err\n", 3)


@pytest.mark.parametrize("transport", [Transport.SPDY, Transport.WEBSOCKET_V5])
def test_exec_stdin_until_eof(
    server: StreamingServer, start_vm: Start, transport: Transport
) -> None:
    vm = start_vm(command=["sleep", "300"])
    payload = b"".join(b"line %06d\n" % i for i in range(20000))  # 240 KB
    request = {"cmd": ["cat"], "stdin": True, "stdout": True, "stderr": True}
    with exec_session(server, vm, transport, **request) as session:
        result = session.communicate(payload)
    assert result.exit_code == 0
    assert result.stdout == payload


@pytest.mark.parametrize("transport", list(Transport))
def test_exec_tty_and_resize(
    server: StreamingServer, start_vm: Start, transport: Transport
) -> None:
    vm = start_vm(command=["sleep", "300"])
    request = {"cmd": terminal_size_probe(100, 30), "stdin": True, "stdout": True, "tty": True}
    with exec_session(server, vm, transport, **request) as session:
        session.resize(100, 30)
        result = session.wait()
    assert expected_terminal_size(100, 30) in result.stdout
    assert result.exit_code == 0


@pytest.mark.parametrize("transport", list(Transport))
def test_attach(server: StreamingServer, start_vm: Start, transport: Transport) -> None:
    vm = start_vm(command=ATTACH_PROBE, stdin_open=True)
    request = cri.AttachRequest(container_id="c", stdin=True, stdout=True, stderr=True)
    url = server.url(Kind.ATTACH, request, vm.id)
    with connect_remote_command(url, transport, StreamOptions.of(request), TIMEOUT) as session:
        result = converse_with_attach_probe(session)
    assert result.stdout.endswith(b"got:hello\n")
    assert result.stderr.endswith(b"bye:hello\n")
    assert result.exit_code == 0


@pytest.mark.parametrize("transport", [Transport.SPDY, Transport.WEBSOCKET])
def test_port_forward_to_the_vm_address(
    server: StreamingServer, start_vm: Start, transport: Transport
) -> None:
    vm = start_vm(WEBSERVER)
    vm.reload()
    address = vm.attrs["NetworkSettings"]["IPAddress"]
    request = cri.PortForwardRequest(pod_sandbox_id="p", port=[80])
    deadline = time.monotonic() + TIMEOUT
    response = b""
    while not response and time.monotonic() < deadline:  # until httpd listens
        url = server.url(Kind.PORT_FORWARD, request, address)
        forward = (
            SpdyPortForward(url, TIMEOUT)
            if transport is Transport.SPDY
            else WebSocketPortForward(url, [80], TIMEOUT)
        )
        with forward:
            connection = forward.connect(80)
            connection.send(b"GET / HTTP/1.0\r\n\r\n")
            response = connection.read_until_closed()
    assert response.endswith(b"\r\n\r\ncri-conformance web server\n"), response
