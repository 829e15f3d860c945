"""The ``kubernetes`` Python client's own streaming code, aimed at a streaming URL.

``kubernetes.stream.ws_client`` implements ``v4``/``v5.channel.k8s.io`` and WebSocket port
forwarding on ``websocket-client``, sharing no code with the harness or the shim: what it
reads right, a real Kubernetes client reads right. It normally reaches the kubelet through
the API server; here it gets the runtime's URL straight from an Exec or PortForward.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes.client import Configuration
from kubernetes.stream.ws_client import (
    STDERR_CHANNEL,
    STDOUT_CHANNEL,
    PortForward,
    WSClient,
    create_websocket,
    get_websocket_url,
)

TIMEOUT = 20.0


@dataclass(frozen=True)
class Finished:
    stdout: bytes
    stderr: bytes
    returncode: int
    """As the client reads it off the error channel's v4 status."""


def run(url: str, stdin: bytes, protocol: str | None = None, close_stdin: bool = False) -> Finished:
    """Exec or attach at ``url``: send ``stdin`` (then end it, under v5), read to the end.

    ``protocol`` pins the subprotocol offered; None offers what the client offers by itself
    (v5, then v4)."""
    headers = {"sec-websocket-protocol": protocol} if protocol else None
    client = WSClient(Configuration(), get_websocket_url(url), headers, True, binary=True)
    try:
        client.write_stdin(stdin)
        if close_stdin:
            client.close_channel(0)
        client.run_forever(timeout=TIMEOUT)
        assert not client.is_open(), f"the session is still open after {TIMEOUT} s"
        returncode = client.returncode  # first: it reads the error channel itself
        stdout, stderr = client.read_channel(STDOUT_CHANNEL), client.read_channel(STDERR_CHANNEL)
        return Finished(stdout, stderr, returncode)
    finally:
        client.close()
        # websocket-client answers the server's close frame but leaves the TCP connection
        # open until the object is collected; the shim (the websockets library) waits for it
        # for its close timeout, 10 s. Close it as a program that exits would.
        client.sock.shutdown()


def forward(url: str, port: int, payload: bytes) -> bytes:
    """Port-forward at ``url`` (which forwards ``port``): send ``payload``, read to the end."""
    websocket = create_websocket(Configuration(), get_websocket_url(url))
    forwarded = PortForward(websocket, [port])
    connection = forwarded.socket(port)
    connection.settimeout(TIMEOUT)
    try:
        connection.sendall(payload)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        assert forwarded.error(port) is None, forwarded.error(port)
        return received
    finally:
        forwarded.close()
        websocket.close()
        websocket.shutdown()  # as above
