"""Exec, Attach and PortForward on the apple backend, spoken to by the harness's own clients.

The shim runs over gRPC with its CLI pointed at the double; exec replies stand in for the
commands (``CliDouble.reply_to_exec``), the keeper records what a workload prints.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from apple_double import BUSYBOX, CliDouble, wait_for
from apple_shims import Shims, container_config, log_lines, pod_config, refused, vm_of
from cri_api.v1 import api_pb2 as cri

from harness.client import CriClient
from harness.streaming import PortForward, StreamType, Transport, run_exec, start_attach, start_exec
from harness.streaming.probes import expected_terminal_size, terminal_size_probe
from harness.streaming.spdy_client import SpdyPortForward
from harness.streaming.websocket_client import WebSocketPortForward
from reference_shim.backends.apple.backend import AppleBackend
from reference_shim.backends.apple.streaming import AppleStreaming
from reference_shim.streaming.server import StreamingServer
from reference_shim.streaming.tokens import Kind

TIMEOUT = 10.0


@pytest.fixture
def running(shims: Shims, tmp_path: Path) -> tuple[CriClient, str, str]:
    """A shim, and a running container in a pod: (client, container id, its VM id)."""
    client = shims.start()
    client.pull_image(BUSYBOX)
    config = pod_config(tmp_path)
    container_id = client.create_container(client.run_pod(config), container_config(), config)
    client.start_container(container_id)
    return client, container_id, vm_of(client, container_id)


@pytest.mark.parametrize("transport", list(Transport))
def test_exec_keeps_stdout_and_stderr_apart_and_reports_the_exit_code(
    running: tuple[CriClient, str, str], double: CliDouble, transport: Transport
) -> None:
    client, container_id, vm_id = running
    argv = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    double.reply_to_exec(argv, stdout="out\n", stderr="err\n", exit_code=3)
    result = run_exec(client, container_id, argv, transport, timeout=TIMEOUT)
    assert (result.stdout, result.stderr, result.exit_code) == (b"out\n", b"err\n", 3)
    assert result.status.document["reason"] == "NonZeroExitCode"
    assert double.last("exec") == ["exec", vm_id, *argv]  # no -i, no -t


@pytest.mark.parametrize("transport", [Transport.SPDY, Transport.WEBSOCKET_V5])
def test_exec_stdin_reaches_the_command_and_ends_with_eof(
    running: tuple[CriClient, str, str], double: CliDouble, transport: Transport
) -> None:
    client, container_id, vm_id = running
    double.reply_to_exec(["cat"], echo_stdin=True, stderr="done\n")
    payload = bytes(range(256)) * 1024  # 256 KiB: more than a pipe or a SPDY window holds
    result = run_exec(client, container_id, ["cat"], transport, stdin=payload, timeout=TIMEOUT)
    assert (result.stdout, result.stderr, result.exit_code) == (payload, b"done\n", 0)
    assert double.last("exec") == ["exec", "-i", vm_id, "cat"]


@pytest.mark.parametrize("transport", list(Transport))
def test_exec_tty_gives_the_cli_a_terminal_that_follows_resize(
    running: tuple[CriClient, str, str], double: CliDouble, transport: Transport
) -> None:
    client, container_id, vm_id = running
    probe = terminal_size_probe(100, 30)
    double.reply_to_exec(probe, await_size=[30, 100], stderr="note\n", exit_code=7)
    request = cri.ExecRequest(
        container_id=container_id, cmd=probe, stdin=True, stdout=True, tty=True
    )
    with start_exec(client, request, transport, TIMEOUT) as session:
        session.resize(100, 30)
        result = session.wait()
    # One stream: the terminal merged stderr into it (and ends its lines with \r\n).
    assert result.stdout == expected_terminal_size(100, 30) + b"note\r\n"
    assert result.exit_code == 7
    assert double.last("exec") == ["exec", "-i", "-t", vm_id, *probe]


@pytest.mark.parametrize("transport", list(Transport))
def test_attach_streams_the_output_from_then_on(
    running: tuple[CriClient, str, str], double: CliDouble, transport: Transport, tmp_path: Path
) -> None:
    client, container_id, vm_id = running
    double.workload_prints(vm_id, "stdout", "before\n")
    wait_for(lambda: (b"stdout", b"F", b"before") in log_lines(tmp_path / "logs" / "main.log"))
    request = cri.AttachRequest(container_id=container_id, stdout=True, stderr=True)
    with start_attach(client, request, transport, TIMEOUT) as session:
        # Output written before the attach began is not delivered: announce until one is seen.
        for _ in range(50):
            double.workload_prints(vm_id, "stdout", "ready\n")
            with contextlib.suppress(TimeoutError):
                session.output(StreamType.STDOUT).wait_for(b"ready\n", 0.2)
                break
        double.workload_prints(vm_id, "stderr", "oops\n")
        double.workload_prints(vm_id, "stdout", "no newline")
        double.workload_exits(vm_id, 0)
        result = session.wait()
    assert b"before" not in result.stdout
    assert set(result.stdout.split(b"\n")[:-1]) == {b"ready"}
    assert result.stdout.endswith(b"ready\nno newline")
    assert (result.stderr, result.exit_code) == (b"oops\n", 0)
    # The attach ended because the workload did.
    wait_for(lambda: client.container_status(container_id).status.state == cri.CONTAINER_EXITED)


def test_attach_with_stdin_is_refused_at_the_call_with_the_reason(
    running: tuple[CriClient, str, str],
) -> None:
    client, container_id, _vm_id = running
    request = cri.AttachRequest(container_id=container_id, stdin=True, stdout=True)
    with refused(grpc.StatusCode.UNIMPLEMENTED) as refusal:
        client.attach_url(request)
    assert "Attach with stdin is not supported" in refusal.value.details
    assert "cannot attach to a running container" in refusal.value.details


PAYLOAD = bytes(range(256)) * 256  # 64 KiB: more than one SPDY frame or socket read


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A loopback TCP port that reads ``PAYLOAD``'s length from each connection, sends it
    back and closes (a pod's server, where the shim's dial can reach it)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                received = b""
                while len(received) < len(PAYLOAD) and (chunk := connection.recv(65536)):
                    received += chunk
                connection.sendall(received)

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def read_all(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_dial_connects_to_the_pod_address(backend: AppleBackend, echo_port: int) -> None:
    connection = AppleStreaming(backend).dial("127.0.0.1", echo_port, TIMEOUT)
    with connection:
        assert connection.gettimeout() is None  # a live session must not time out
        connection.sendall(PAYLOAD)
        assert read_all(connection) == PAYLOAD


@pytest.mark.parametrize("transport", [Transport.SPDY, Transport.WEBSOCKET])
def test_port_forward_round_trips_bytes(
    backend: AppleBackend, echo_port: int, transport: Transport
) -> None:
    """Through the server, to the address a pod record would give (the double's VM addresses
    are not reachable, loopback is)."""
    server = StreamingServer(AppleStreaming(backend)).start()
    try:
        request = cri.PortForwardRequest(pod_sandbox_id="p1", port=[echo_port])
        url = server.url(Kind.PORT_FORWARD, request, "127.0.0.1")
        forward: PortForward = (
            SpdyPortForward(url, TIMEOUT)
            if transport is Transport.SPDY
            else WebSocketPortForward(url, [echo_port], TIMEOUT)
        )
        with forward:
            connection = forward.connect(echo_port)
            connection.send(PAYLOAD)
            assert connection.read_until_closed() == PAYLOAD
    finally:
        server.stop()


def test_port_forward_goes_to_the_address_of_the_pods_workload(
    shims: Shims, running: tuple[CriClient, str, str], double: CliDouble
) -> None:
    """The pod's address comes with its container's VM; PortForward asks for it afresh."""
    client, _container_id, vm_id = running
    url = client.port_forward_url(client.list_pods()[0].id, [80])
    assert url.startswith("http://127.0.0.1:")
    assert shims.running is not None
    streaming = shims.running[0].streaming
    assert streaming is not None
    pending = streaming.cache.consume(url.rsplit("/", 1)[1], Kind.PORT_FORWARD)
    assert pending is not None
    vm_ip = double.cli().json("", "inspect", vm_id)[0]["status"]["networks"][0]["ipv4Address"]
    assert pending.addresses is not None
    assert pending.addresses() == [vm_ip.split("/")[0]]
