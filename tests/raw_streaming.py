"""Streaming clients that misbehave on purpose, as a stuck or hostile client would.

They speak just enough of the protocols (the harness's own framing) to start a session, then
never read a byte, or send with no regard for flow control. The harness's real clients always
read and keep SPDY windows, so they cannot play these parts.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import socket

from harness.streaming.commands import RemoteCommand
from harness.streaming.spdy_client import SpdyRemoteCommand
from harness.streaming.websocket_client import WebSocketRemoteCommand
from kube_streaming.remotecommand import STREAM_TYPE, V4_CHANNEL, StreamOptions, StreamType
from kube_streaming.spdy.frames import DataFrame, FrameEncoder, SynStream
from kube_streaming.upgrade import StreamingUrl, spdy_upgrade


class SpdyClientThatNeverReads:
    """Upgrades, opens the streams the request implies (so the session starts), then only
    sends: no reply, no window update and no output is ever read. It announces no window
    either, so the server's flow control does not apply: only the socket holds it back."""

    def __init__(self, url: str, options: StreamOptions, timeout: float = 10.0) -> None:
        self.sock, _, _ = spdy_upgrade(url, [V4_CHANNEL], timeout)
        self._encoder = FrameEncoder()
        self.stream_ids: dict[StreamType, int] = {}
        for index, kind in enumerate(options.spdy_streams):
            stream_id = 2 * index + 1
            self.stream_ids[kind] = stream_id
            self._send(SynStream(stream_id, ((STREAM_TYPE, kind.value),)))

    def _send(self, frame: SynStream | DataFrame) -> None:
        self.sock.sendall(self._encoder.encode(frame))

    def flood_stdin(self, limit: int, stall: float) -> int:
        """Send stdin as fast as the socket takes it, up to ``limit`` bytes or until nothing
        moved for ``stall`` seconds; the bytes sent in whole frames."""
        chunk = b"x" * 32 * 1024
        sent = 0
        self.sock.settimeout(stall)
        try:
            while sent < limit:
                self._send(DataFrame(self.stream_ids[StreamType.STDIN], chunk))
                sent += len(chunk)
        except TimeoutError:
            pass
        return sent

    def leave(self) -> None:
        """Gone at once, without a goodbye (no GOAWAY)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class WebSocketClientThatNeverReads:
    """Sends the WebSocket upgrade for ``protocol`` and then nothing, and reads nothing: not
    even the server's 101 answer."""

    def __init__(self, url: str, protocol: str = V4_CHANNEL, timeout: float = 10.0) -> None:
        where = StreamingUrl.parse(url)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        request = (
            f"GET {where.target} HTTP/1.1\r\nHost: {where.authority}\r\n"
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n"
        )
        self.sock = socket.create_connection((where.host, where.port), timeout=timeout)
        self.sock.sendall(request.encode("latin-1"))

    def leave(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def leave_abruptly(session: RemoteCommand) -> None:
    """A harness session's connection just ends: no GOAWAY, no WebSocket close frame."""
    if isinstance(session, SpdyRemoteCommand):
        sock = session.session.sock
    else:
        assert isinstance(session, WebSocketRemoteCommand)
        sock = session.socket.ws.socket
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
