"""Sessions whose client leaves, stalls or floods, on the server over local processes.

No write ever fails for a command that prints nothing, so only noticing the closed connection
can end it; the Docker versions of these tests (tests/integration/shim/test_streaming_abuse.py)
also count the threads, descriptors and container processes left behind.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from cri_api.v1 import api_pb2 as cri
from raw_streaming import SpdyClientThatNeverReads, WebSocketClientThatNeverReads, leave_abruptly

from harness.streaming import StreamOptions, Transport, connect_remote_command
from harness.streaming.spdy_client import SpdyPortForward
from harness.streaming.websocket_client import WebSocketPortForward
from kube_streaming.remotecommand import STREAM_TYPE, V4_CHANNEL
from kube_streaming.spdy.session import Session
from kube_streaming.upgrade import spdy_upgrade
from reference_shim.streaming.server import StreamingServer
from reference_shim.streaming.tokens import Kind

from .conftest import LocalBackend

TIMEOUT = 10.0
STALL_S = 1.0


def exec_url(server: StreamingServer, cmd: list[str], **streams: bool) -> tuple[str, StreamOptions]:
    request = cri.ExecRequest(container_id="c1", cmd=cmd, **streams)
    return server.url(Kind.EXEC, request, "vm-1"), StreamOptions.of(request)


def wait_for_process(backend: LocalBackend) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not backend.processes:
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.01)


@pytest.mark.parametrize("transport", list(Transport))
def test_a_quiet_command_whose_client_left_is_stopped(
    server: StreamingServer, backend: LocalBackend, transport: Transport
) -> None:
    url, options = exec_url(server, ["sleep", "60"], stdout=True, stderr=True)
    session = connect_remote_command(url, transport, options, TIMEOUT)
    wait_for_process(backend)
    session.close()
    assert backend.processes[0].wait() == -signal.SIGTERM


@pytest.mark.parametrize("transport", [Transport.SPDY, Transport.WEBSOCKET_V5])
def test_a_command_whose_client_vanished_is_stopped(
    server: StreamingServer, backend: LocalBackend, transport: Transport
) -> None:
    """No goodbye (GOAWAY, close frame): the connection just ends."""
    url, options = exec_url(server, ["cat"], stdin=True, stdout=True, tty=True)
    session = connect_remote_command(url, transport, options, TIMEOUT)
    wait_for_process(backend)
    leave_abruptly(session)
    assert backend.processes[0].wait() == -signal.SIGTERM


@pytest.fixture
def silent_pod(backend: LocalBackend) -> Iterator[list[socket.socket]]:
    """A pod port that accepts and then neither sends nor closes; the accepted sockets."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    backend.ports["80"] = listener.getsockname()[1]
    yield accepted
    listener.close()
    for conn in accepted:
        conn.close()


def forwarding_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name.startswith("forward")}


@pytest.mark.parametrize("transport", [Transport.SPDY, Transport.WEBSOCKET])
def test_a_departed_port_forward_lets_go_of_its_pod_connection(
    server: StreamingServer, silent_pod: list[socket.socket], transport: Transport
) -> None:
    """The pod never answers nor closes, and nothing may be sent to it to find out (that
    would wake the copy): the server's copy threads must end when the client leaves."""
    before = forwarding_threads()
    request = cri.PortForwardRequest(pod_sandbox_id="pod", port=[80])
    url = server.url(Kind.PORT_FORWARD, request, "pod", addresses=lambda: ["pod-address"])
    if transport is Transport.SPDY:
        forward: SpdyPortForward | WebSocketPortForward = SpdyPortForward(url, TIMEOUT)
    else:
        forward = WebSocketPortForward(url, [80], TIMEOUT)
    forward.connect(80)
    deadline = time.monotonic() + TIMEOUT
    while not silent_pod or not forwarding_threads() - before:
        assert time.monotonic() < deadline, "the server never dialled the pod"
        time.sleep(0.01)
    forward.close()
    deadline = time.monotonic() + 3.0  # the local pod's socket gives up by itself after 10 s
    while forwarding_threads() - before:
        assert time.monotonic() < deadline, "the forward outlived its client"
        time.sleep(0.05)
    assert silent_pod[0].recv(1) == b"", "the pod connection is still open"


@pytest.fixture
def impatient_server(backend: LocalBackend) -> Iterator[StreamingServer]:
    streaming = StreamingServer(backend, stall_timeout=STALL_S).start()
    yield streaming
    streaming.stop()


@pytest.mark.parametrize("protocol", ["spdy", "websocket"])
def test_a_client_that_reads_nothing_is_dropped_after_the_stall_timeout(
    impatient_server: StreamingServer, backend: LocalBackend, protocol: str
) -> None:
    """The socket fills and then takes nothing for the stall timeout (SO_SNDTIMEO)."""
    url, options = exec_url(impatient_server, ["yes"], stdout=True)
    if protocol == "spdy":
        client: SpdyClientThatNeverReads | WebSocketClientThatNeverReads = SpdyClientThatNeverReads(
            url, options
        )
    else:
        client = WebSocketClientThatNeverReads(url)
    try:
        wait_for_process(backend)
        assert backend.processes[0].wait() == -signal.SIGTERM
    finally:
        client.leave()


def test_a_client_that_opens_no_window_is_dropped_after_the_stall_timeout(
    impatient_server: StreamingServer, backend: LocalBackend
) -> None:
    """A SPDY client that keeps windows reads its socket but never its stream, so it grants
    no window: the server waits the stall timeout for one, then gives up."""
    url, options = exec_url(impatient_server, ["yes"], stdout=True)
    sock, _, received = spdy_upgrade(url, [V4_CHANNEL], TIMEOUT)
    session = Session(sock, server=False, received=received).start()
    try:
        for kind in options.spdy_streams:
            session.open_stream(((STREAM_TYPE, kind.value),), TIMEOUT)
        wait_for_process(backend)
        assert backend.processes[0].wait() == -signal.SIGTERM
        assert session.closed.wait(TIMEOUT), "the server kept the session"
    finally:
        session.close()


def test_stdin_sent_without_regard_to_windows_is_held_back(
    server: StreamingServer, backend: LocalBackend
) -> None:
    """A command that never reads stdin, a client that keeps no window: the server stops
    reading the client once a stream holds its bound, and sees it leave even then."""
    url, options = exec_url(server, ["sleep", "60"], stdin=True, stdout=True)
    flooder = SpdyClientThatNeverReads(url, options)
    wait_for_process(backend)
    sent = flooder.flood_stdin(limit=256 * 1024 * 1024, stall=1.0)
    assert sent < 32 * 1024 * 1024, f"the server took {sent} bytes nobody reads"
    flooder.leave()
    assert backend.processes[0].wait() == -signal.SIGTERM


def test_output_streams_are_not_affected(server: StreamingServer) -> None:
    """The bounds leave a normal session alone: 4 MiB of output arrive whole."""
    url, options = exec_url(server, ["head", "-c", str(4 * 1024 * 1024), "/dev/zero"], stdout=True)
    with connect_remote_command(url, Transport.SPDY, options, TIMEOUT) as session:
        result = session.wait()
    assert result.stdout == bytes(4 * 1024 * 1024)
