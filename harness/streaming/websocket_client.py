"""Exec, attach and port forwarding over WebSocket (the ``channel.k8s.io`` family).

Every binary message starts with a channel byte: 0 stdin, 1 stdout, 2 stderr, 3 error,
4 resize for remotecommand; for port forwarding, channel 2i carries port i's data and 2i+1
its errors, each opening with the port as two little-endian bytes. ``v5.channel.k8s.io`` adds
the close signal ``[255, channel]`` so a client can end stdin; ``v4`` has no way to.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from harness.streaming.collect import Collector
from harness.streaming.commands import PortConnection, PortForward, RemoteCommand
from kube_streaming.errors import (
    ProtocolUnsupported,
    StreamingError,
    refused_upgrade,
    unanswered,
)
from kube_streaming.portforward import channels, split_port_prefix
from kube_streaming.remotecommand import (
    V4_CHANNEL,
    V5_CHANNEL,
    Channel,
    ExecResult,
    StreamOptions,
    StreamType,
    TerminalSize,
)
from kube_streaming.upgrade import StreamingUrl


def open_websocket(url: str, protocol: str, timeout: float) -> ClientConnection:
    """Connect offering exactly ``protocol``; a negotiated refusal is ``ProtocolUnsupported``."""
    name = f"WebSocket {protocol}"
    try:
        ws = connect(
            StreamingUrl.parse(url).websocket(),
            subprotocols=[Subprotocol(protocol)],
            compression=None,
            proxy=None,
            open_timeout=timeout,
            ping_interval=None,
            close_timeout=timeout,
            max_size=None,
            user_agent_header="cri-conformance",
            legacy=True,  # a plain connection; the caller closes it
        )
    except InvalidStatus as error:
        response = error.response
        body = response.body.decode("utf-8", "replace") if response.body else ""
        chosen = response.headers.get("Sec-WebSocket-Protocol")
        raise refused_upgrade(url, name, response.status_code, body, chosen) from None
    except InvalidHandshake as error:  # malformed, or a subprotocol never offered
        raise StreamingError(f"{url}: {name}: the handshake is broken: {error}") from None
    except OSError as error:  # no answer in time, or the connection broke
        raise unanswered(url, f"{name} handshake", timeout, error) from None
    if ws.subprotocol is None:
        ws.close()
        raise ProtocolUnsupported(name, "the server upgraded without any offered subprotocol")
    if ws.subprotocol != protocol:
        ws.close()
        raise StreamingError(f"{url}: {name}: the server chose {ws.subprotocol!r}, never offered")
    return ws


class ChannelSocket:
    """Sorts incoming messages into one queue per channel; b"" marks the socket's end."""

    def __init__(self, ws: ClientConnection, channels: Iterable[int]) -> None:
        self.ws = ws
        self._queues: dict[int, queue.Queue[bytes]] = {ch: queue.Queue() for ch in channels}
        self.violation: str | None = None
        threading.Thread(target=self._sort, name="ws-channels", daemon=True).start()

    def _sort(self) -> None:
        try:
            for message in self.ws:
                if isinstance(message, str) or not message:
                    self.violation = f"unexpected message {message!r} (want binary with a channel)"
                    continue
                channel_queue = self._queues.get(message[0])
                if channel_queue is None:
                    self.violation = f"message on unknown channel {message[0]}"
                elif len(message) > 1:  # servers announce channels with empty messages
                    channel_queue.put(message[1:])
        except ConnectionClosed:
            pass
        finally:
            for channel_queue in self._queues.values():
                channel_queue.put(b"")

    def reader(self, channel: int) -> Callable[[], bytes]:
        """A blocking read of ``channel``: the next chunk, b"" once the socket closed."""
        return self._queues[channel].get

    def send(self, channel: int, data: bytes) -> None:
        try:
            self.ws.send(bytes([channel]) + data)
        except ConnectionClosed as error:
            raise StreamingError(
                f"the WebSocket closed before channel {channel} was sent"
            ) from error

    def close(self) -> None:
        self.ws.close()


class WebSocketRemoteCommand(RemoteCommand):
    def __init__(
        self,
        url: str,
        options: StreamOptions,
        protocol: str,
        timeout: float,
        handshake_timeout: float | None = None,
    ) -> None:
        super().__init__(options, timeout)
        handshake = timeout if handshake_timeout is None else handshake_timeout
        self.protocol = protocol
        channels = {
            StreamType.STDOUT: Channel.STDOUT,
            StreamType.STDERR: Channel.STDERR,
            StreamType.ERROR: Channel.ERROR,
        }
        self.socket = ChannelSocket(open_websocket(url, protocol, handshake), channels.values())
        self._collectors = {
            kind: Collector(f"{kind.value} channel", self.socket.reader(channel))
            for kind, channel in channels.items()
        }

    def write_stdin(self, data: bytes) -> None:
        self.socket.send(Channel.STDIN, data)

    @property
    def can_close_stdin(self) -> bool:
        return self.protocol == V5_CHANNEL

    def close_stdin(self) -> None:
        if not self.can_close_stdin:
            raise StreamingError(f"{self.protocol} cannot end stdin; use v5 or SPDY")
        self.socket.ws.send(bytes([Channel.CLOSE, Channel.STDIN]))

    def resize(self, width: int, height: int) -> None:
        self.socket.send(Channel.RESIZE, TerminalSize(width, height).encode())

    def wait(self, timeout: float | None = None) -> ExecResult:
        result = super().wait(timeout)
        if self.socket.violation:
            raise StreamingError(f"{self.protocol} protocol violation: {self.socket.violation}")
        return result

    def close(self) -> None:
        self.socket.close()


class WebSocketPortConnection(PortConnection):
    """Port ``index``'s channel pair; both open with the port, which is checked here."""

    def __init__(self, socket: ChannelSocket, index: int, port: int, timeout: float) -> None:
        self.socket, self.port, self.timeout = socket, port, timeout
        self.data_channel, error_channel = channels(index)
        self._data = Collector(f"port {port} data channel", socket.reader(self.data_channel))
        self._error = Collector(f"port {port} error channel", socket.reader(error_channel))

    def _strip_port(self, received: bytes, name: str, strict: bool = True) -> bytes:
        split = split_port_prefix(received)
        if split is None:
            if strict:
                raise StreamingError(f"{name} ended before its 2-byte port prefix: {received!r}")
            return b""
        port, rest = split
        if port != self.port:
            raise StreamingError(f"{name} opened with port {port}, expected {self.port}")
        return rest

    def send(self, payload: bytes) -> None:
        self.socket.send(self.data_channel, payload)

    def read_until_closed(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        return self._strip_port(self._data.result(deadline), self._data.name)

    def error_text(self) -> str:
        received = self._error.snapshot()
        return self._strip_port(received, self._error.name, strict=False).decode("utf-8", "replace")


class WebSocketPortForward(PortForward):
    """One WebSocket carries one connection per requested port, opened by the server."""

    def __init__(
        self, url: str, ports: list[int], timeout: float, handshake_timeout: float | None = None
    ) -> None:
        self.ports, self.timeout = ports, timeout
        handshake = timeout if handshake_timeout is None else handshake_timeout
        ws = open_websocket(url, V4_CHANNEL, handshake)
        self.socket = ChannelSocket(ws, range(2 * len(ports)))
        self._used: set[int] = set()

    def connect(self, port: int) -> WebSocketPortConnection:
        if port not in self.ports or port in self._used:
            raise StreamingError(
                f"port {port}: a WebSocket session forwards each of {self.ports} exactly once"
            )
        self._used.add(port)
        return WebSocketPortConnection(self.socket, self.ports.index(port), port, self.timeout)

    def close(self) -> None:
        self.socket.close()
