"""Streaming clients: drive the URL that Exec, Attach and PortForward return.

Tests pick a ``Transport`` and call the helpers here; the protocols stay out of sight::

    result = run_exec(cri, container_id, ["sh", "-c", "exit 3"], Transport.SPDY)
    assert result.exit_code == 3

A protocol the runtime does not offer raises ``ProtocolUnsupported`` (an unsupported cell in
the matrix, not a failure); a used, unknown or expired token raises ``StreamNotFound``.

Two deadlines bound a session: ``handshake_timeout`` the runtime's answers (the connection, the
upgrade, the streams opened), which the helpers given a client take from its CRI deadline
(``--cri-timeout``), and ``timeout`` the whole session, however long the command runs.
"""

from __future__ import annotations

from enum import StrEnum

from cri_api.v1 import api_pb2 as cri

from harness.client import CriClient
from harness.streaming.commands import PortConnection, PortForward, RemoteCommand
from harness.streaming.spdy_client import SpdyPortForward, SpdyRemoteCommand
from harness.streaming.websocket_client import WebSocketPortForward, WebSocketRemoteCommand
from kube_streaming.errors import ProtocolUnsupported, StreamingError, StreamNotFound
from kube_streaming.remotecommand import (
    V4_CHANNEL,
    V5_CHANNEL,
    ExecResult,
    StreamOptions,
    StreamType,
)

__all__ = [
    "ExecResult",
    "PortConnection",
    "PortForward",
    "ProtocolUnsupported",
    "RemoteCommand",
    "StreamNotFound",
    "StreamOptions",
    "StreamType",
    "StreamingError",
    "Transport",
    "connect_remote_command",
    "open_port_forward",
    "run_exec",
    "start_attach",
    "start_exec",
]

DEFAULT_TIMEOUT = 30.0


class Transport(StrEnum):
    """How the client speaks to the streaming URL; the value names the matrix feature."""

    SPDY = "spdy"
    WEBSOCKET = "websocket"
    """``v4.channel.k8s.io`` (exec/attach) and the v4 port-forward channels."""
    WEBSOCKET_V5 = "websocket-v5"
    """``v5.channel.k8s.io``: v4 plus the close signal that ends stdin."""


def connect_remote_command(
    url: str,
    transport: Transport,
    options: StreamOptions,
    timeout: float = DEFAULT_TIMEOUT,
    handshake_timeout: float | None = None,
) -> RemoteCommand:
    """Open the exec/attach session at ``url``; ``options`` must match the request."""
    if transport is Transport.SPDY:
        return SpdyRemoteCommand(url, options, timeout, handshake_timeout)
    protocol = V5_CHANNEL if transport is Transport.WEBSOCKET_V5 else V4_CHANNEL
    return WebSocketRemoteCommand(url, options, protocol, timeout, handshake_timeout)


def start_exec(
    client: CriClient,
    request: cri.ExecRequest,
    transport: Transport,
    timeout: float = DEFAULT_TIMEOUT,
) -> RemoteCommand:
    return connect_remote_command(
        client.exec_url(request), transport, StreamOptions.of(request), timeout, client.timeout
    )


def start_attach(
    client: CriClient,
    request: cri.AttachRequest,
    transport: Transport,
    timeout: float = DEFAULT_TIMEOUT,
) -> RemoteCommand:
    return connect_remote_command(
        client.attach_url(request), transport, StreamOptions.of(request), timeout, client.timeout
    )


def run_exec(
    client: CriClient,
    container_id: str,
    cmd: list[str],
    transport: Transport,
    stdin: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ExecResult:
    """Run ``cmd`` to completion with stdout and stderr; ``stdin`` is sent, then ended
    (where the protocol can end it: not over v4 WebSocket, so ``cmd`` must not wait for EOF)."""
    request = cri.ExecRequest(
        container_id=container_id, cmd=cmd, stdin=stdin is not None, stdout=True, stderr=True
    )
    with start_exec(client, request, transport, timeout) as session:
        return session.wait() if stdin is None else session.communicate(stdin)


def open_port_forward(
    client: CriClient,
    pod_id: str,
    ports: list[int],
    transport: Transport,
    timeout: float = DEFAULT_TIMEOUT,
) -> PortForward:
    url = client.port_forward_url(pod_id, ports)
    if transport is Transport.SPDY:
        return SpdyPortForward(url, timeout, client.timeout)
    if transport is Transport.WEBSOCKET:
        return WebSocketPortForward(url, ports, timeout, client.timeout)
    raise ValueError(f"port forwarding has no {transport.value} protocol; use spdy or websocket")
