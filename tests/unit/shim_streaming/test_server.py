"""The shim's streaming server, spoken to by the harness's own clients over every protocol."""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request

import pytest
from cri_api.v1 import api_pb2 as cri

from harness.streaming import (
    ProtocolUnsupported,
    StreamNotFound,
    StreamOptions,
    StreamType,
    Transport,
    connect_remote_command,
)
from harness.streaming.probes import expected_terminal_size, terminal_size_probe
from harness.streaming.spdy_client import SpdyPortForward
from harness.streaming.websocket_client import WebSocketPortForward
from kube_streaming.upgrade import spdy_upgrade
from reference_shim.streaming.server import StreamingServer, route
from reference_shim.streaming.tokens import Kind

from .conftest import LocalBackend

TIMEOUT = 10.0


def exec_url(server: StreamingServer, cmd: list[str], **streams: bool) -> tuple[str, StreamOptions]:
    request = cri.ExecRequest(container_id="c1", cmd=cmd, **streams)
    return server.url(Kind.EXEC, request, "vm-1"), StreamOptions.of(request)


@pytest.mark.parametrize("transport", list(Transport))
def test_exec_reports_output_and_exit_code(server: StreamingServer, transport: Transport) -> None:
    url, options = exec_url(
        server, ["sh", "-c", "echo out; echo err >&2; exit 3"], stdout=True, stderr=True
    )
    with connect_remote_command(url, transport, options, TIMEOUT) as session:
        result = session.wait()
    assert (result.stdout, result.stderr, result.exit_code) == (b"out\n", b"err\n", 3)
    assert result.status.document["reason"] == "NonZeroExitCode"


@pytest.mark.parametrize("transport", [Transport.SPDY, Transport.WEBSOCKET_V5])
def test_exec_stdin_ends_with_eof(server: StreamingServer, transport: Transport) -> None:
    payload = bytes(range(256)) * 2048  # 512 KiB: several SPDY windows
    url, options = exec_url(server, ["cat"], stdin=True, stdout=True, stderr=True)
    with connect_remote_command(url, transport, options, TIMEOUT) as session:
        result = session.communicate(payload)
    assert result.exit_code == 0
    assert result.stdout == payload


@pytest.mark.parametrize("transport", list(Transport))
def test_exec_tty_follows_resize(server: StreamingServer, transport: Transport) -> None:
    url, options = exec_url(server, terminal_size_probe(100, 30), stdin=True, stdout=True, tty=True)
    with connect_remote_command(url, transport, options, TIMEOUT) as session:
        session.resize(100, 30)
        result = session.wait()
    assert expected_terminal_size(100, 30) in result.stdout
    assert result.exit_code == 0


@pytest.mark.parametrize("transport", [Transport.SPDY, Transport.WEBSOCKET])
def test_a_command_whose_client_left_is_stopped(
    server: StreamingServer, backend: LocalBackend, transport: Transport
) -> None:
    url, options = exec_url(
        server, ["sh", "-c", "while :; do echo y; sleep 0.01; done"], stdout=True
    )
    with connect_remote_command(url, transport, options, TIMEOUT) as session:
        session.output(StreamType.STDOUT).wait_for(b"y\n", TIMEOUT)
    assert backend.processes[0].wait() == -signal.SIGTERM


@pytest.mark.parametrize("transport", list(Transport))
def test_attach_reaches_the_workload(
    server: StreamingServer, backend: LocalBackend, transport: Transport
) -> None:
    backend.workloads["vm-2"] = ["sh", "-c", 'read line; echo "got:$line"; echo bye >&2']
    request = cri.AttachRequest(container_id="c2", stdin=True, stdout=True, stderr=True)
    url = server.url(Kind.ATTACH, request, "vm-2")
    with connect_remote_command(url, transport, StreamOptions.of(request), TIMEOUT) as session:
        session.write_stdin(b"hello\n")
        result = session.wait()
    assert (result.stdout, result.stderr, result.exit_code) == (b"got:hello\n", b"bye\n", 0)


def test_spdy_port_forward_reaches_the_pod_port(server: StreamingServer, web_server: int) -> None:
    request = cri.PortForwardRequest(pod_sandbox_id="p1", port=[web_server])
    with SpdyPortForward(server.url(Kind.PORT_FORWARD, request, "pod-address"), TIMEOUT) as pf:
        for _ in range(2):  # one session, a new stream pair per connection
            connection = pf.connect(web_server)
            connection.send(b"GET / HTTP/1.0\r\n\r\n")
            response = connection.read_until_closed()
            assert response.startswith(b"HTTP/1.0 200 OK\r\n")
            assert response.endswith(b"\r\n\r\ncri-conformance web server\n")
            assert connection.error_text() == ""


def test_websocket_port_forward_reaches_the_pod_port(
    server: StreamingServer, web_server: int
) -> None:
    request = cri.PortForwardRequest(pod_sandbox_id="p1", port=[web_server])
    url = server.url(Kind.PORT_FORWARD, request, "pod-address")
    with WebSocketPortForward(url, [web_server], TIMEOUT) as pf:
        connection = pf.connect(web_server)
        connection.send(b"GET / HTTP/1.0\r\n\r\n")
        response = connection.read_until_closed()
    assert response.endswith(b"\r\n\r\ncri-conformance web server\n")


def test_port_forward_to_a_closed_port_reports_on_the_error_stream(
    server: StreamingServer, backend: LocalBackend
) -> None:
    backend.ports["81"] = 1  # nothing listens on 127.0.0.1:1
    request = cri.PortForwardRequest(pod_sandbox_id="p1", port=[81])
    with SpdyPortForward(server.url(Kind.PORT_FORWARD, request, "pod-address"), TIMEOUT) as pf:
        connection = pf.connect(81)
        assert connection.read_until_closed() == b""
        assert "error forwarding port 81" in connection.error_text()


def test_port_forward_tries_each_pod_address_until_one_accepts(
    server: StreamingServer, backend: LocalBackend, web_server: int
) -> None:
    """Under separate-vms a pod's port may be served by any of its containers' VMs."""
    addresses = ["pod-vm", "pod-address"]
    request = cri.PortForwardRequest(pod_sandbox_id="p1", port=[web_server])
    url = server.url(Kind.PORT_FORWARD, request, "p1", addresses=lambda: addresses)
    with SpdyPortForward(url, TIMEOUT) as pf:
        connection = pf.connect(web_server)
        connection.send(b"GET / HTTP/1.0\r\n\r\n")
        assert connection.read_until_closed().endswith(b"cri-conformance web server\n")
        assert backend.dialled == ["pod-vm", "pod-address"]
        addresses[:] = ["pod-vm", "other-container-vm"]  # read again at every connection
        refused = pf.connect(web_server)
        assert refused.read_until_closed() == b""
        assert "nothing listens on pod-vm" in refused.error_text()  # the first address's error


def test_urls_are_loopback_single_use_and_404_otherwise(server: StreamingServer) -> None:
    url, options = exec_url(server, ["true"], stdout=True)
    assert url.startswith("http://127.0.0.1:")
    with connect_remote_command(url, Transport.SPDY, options, TIMEOUT) as session:
        assert session.wait().exit_code == 0
    for transport in (Transport.SPDY, Transport.WEBSOCKET):
        with pytest.raises(StreamNotFound):
            connect_remote_command(url, transport, options, TIMEOUT)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.base_url}/exec/forged", timeout=TIMEOUT)
    assert refused.value.code == 404


def test_expired_urls_are_not_found(backend: LocalBackend) -> None:
    server = StreamingServer(backend, ttl=0.2).start()
    try:
        url, options = exec_url(server, ["true"], stdout=True)
        time.sleep(0.3)
        with pytest.raises(StreamNotFound):
            connect_remote_command(url, Transport.WEBSOCKET, options, TIMEOUT)
    finally:
        server.stop()


def test_a_plain_get_with_a_good_token_uses_it_up_and_is_a_bad_request(
    server: StreamingServer,
) -> None:
    url, options = exec_url(server, ["true"], stdout=True)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=TIMEOUT)
    assert refused.value.code == 400
    with pytest.raises(StreamNotFound):
        connect_remote_command(url, Transport.SPDY, options, TIMEOUT)


def test_unknown_subprotocols_are_refused_with_the_accepted_list(server: StreamingServer) -> None:
    url, _options = exec_url(server, ["true"], stdout=True)
    with pytest.raises(ProtocolUnsupported, match="403"):
        spdy_upgrade(url, ["v9.channel.k8s.io"], TIMEOUT)


def test_streams_only_what_the_request_asked_for(server: StreamingServer) -> None:
    url, options = exec_url(server, ["sh", "-c", "echo out; echo err >&2"], stdout=True)
    with connect_remote_command(url, Transport.SPDY, options, TIMEOUT) as session:
        result = session.wait()
        with pytest.raises(Exception, match="does not carry stderr"):
            session.output(StreamType.STDERR)
    assert (result.stdout, result.exit_code) == (b"out\n", 0)


def test_routes() -> None:
    assert route("/exec/abc") == (Kind.EXEC, "abc")
    assert route("/portforward/abc") == (Kind.PORT_FORWARD, "abc")
    assert route("/exec/") is None
    assert route("/exec/a/b") is None
    assert route("/logs/abc") is None


def test_the_server_listens_on_loopback_only(backend: LocalBackend) -> None:
    with pytest.raises(ValueError, match="loopback"):
        StreamingServer(backend, host="0.0.0.0")
