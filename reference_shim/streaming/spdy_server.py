"""The server side of SPDY/3.1 streaming: kubelet's handshake, remotecommand and portforward.

Subprotocols are negotiated in the client's order of preference from what the server
accepts; a client offering none it accepts gets 403 with the accepted list, as kubelet answers.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus

from kube_streaming.remotecommand import (
    PORT,
    REQUEST_ID,
    STREAM_TYPE,
    V4_CHANNEL,
    StreamOptions,
    StreamType,
    TerminalSize,
    decode_status,
)
from kube_streaming.spdy.frames import header_value
from kube_streaming.spdy.session import Session, Stream
from kube_streaming.upgrade import PROTOCOL_HEADER, SPDY_UPGRADE
from reference_shim.streaming.forward import PodConnections, splice
from reference_shim.streaming.http import RequestHead, consume, respond, switching_protocols

V3_CHANNEL = "v3.channel.k8s.io"
V2_CHANNEL = "v2.channel.k8s.io"
REMOTECOMMAND_PROTOCOLS = (V4_CHANNEL, V3_CHANNEL, V2_CHANNEL)
_CLOSE_LINGER_S = 5.0


def handshake(sock: socket.socket, head: RequestHead, supported: tuple[str, ...]) -> str | None:
    """Answer 101 with the chosen subprotocol, or refuse and return None."""
    offered = head.get_all(PROTOCOL_HEADER)
    if not offered:
        respond(sock, HTTPStatus.BAD_REQUEST, f"unable to upgrade: {PROTOCOL_HEADER} is required")
        return None
    chosen = next((protocol for protocol in offered if protocol in supported), None)
    if chosen is None:
        accepted = tuple(("X-Accepted-Stream-Protocol-Versions", p) for p in supported)
        respond(
            sock,
            HTTPStatus.FORBIDDEN,
            f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
            f"server accepts {list(supported)}",
            accepted,
        )
        return None
    consume(sock, head)
    switching_protocols(
        sock, (("Connection", "Upgrade"), ("Upgrade", SPDY_UPGRADE), (PROTOCOL_HEADER, chosen))
    )
    return chosen


class SpdyCommandStreams:
    """The client's remotecommand streams, as ``serve_command`` drives them."""

    def __init__(
        self,
        session: Session,
        streams: dict[StreamType, Stream],
        protocol: str,
        stall_timeout: float,
    ) -> None:
        self.session = session
        self.stall_timeout = stall_timeout
        self.departed = session.closed
        self.streams = streams
        self.protocol = protocol
        self._resizes = json.JSONDecoder()
        self._resize_buffer = ""

    def read_stdin(self) -> bytes:
        return self.streams[StreamType.STDIN].read()

    def next_resize(self) -> TerminalSize | None:
        """Resize streams carry back-to-back JSON objects, split across frames anyhow."""
        stream = self.streams.get(StreamType.RESIZE)
        while stream is not None:
            text = self._resize_buffer.lstrip()
            try:
                document, end = self._resizes.raw_decode(text)
            except ValueError:
                chunk = stream.read()
                if not chunk:
                    return None
                self._resize_buffer = text + chunk.decode("utf-8", "replace")
                continue
            self._resize_buffer = text[end:]
            return TerminalSize.decode(document)
        return None

    def write_output(self, kind: StreamType, data: bytes) -> None:
        """A client that keeps flow-control windows but opens none for the stall timeout is
        dropped, as one that stops reading its socket is by the socket's send timeout."""
        try:
            self.streams[kind].write(data, self.stall_timeout)
        except TimeoutError:
            self.session.close()
            raise

    def finish(self, status: bytes) -> None:
        error = self.streams[StreamType.ERROR]
        with contextlib.suppress(ConnectionError):
            if self.protocol == V4_CHANNEL:
                error.write(status)
            elif decode_status(status).exit_code != 0:  # v2/v3: the message, on failure only
                error.write(decode_status(status).message.encode())
            for stream in self.streams.values():
                stream.close_write()
        self.session.close(linger=_CLOSE_LINGER_S)


def accept_command(
    sock: socket.socket,
    protocol: str,
    options: StreamOptions,
    timeout: float,
    stall_timeout: float,
) -> SpdyCommandStreams | None:
    """Wait for exactly the streams the request implies (kubelet counts them)."""
    incoming: queue.Queue[Stream] = queue.Queue()

    def on_stream(stream: Stream) -> None:
        stream.reply()
        incoming.put(stream)

    session = Session(sock, server=True, on_stream=on_stream).start()
    expected = set(options.spdy_streams)
    if protocol == V2_CHANNEL:
        expected.discard(StreamType.RESIZE)
    streams: dict[StreamType, Stream] = {}
    deadline = time.monotonic() + timeout
    while set(streams) != expected:
        try:
            stream = incoming.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            session.close()
            return None
        kind = header_value(stream.headers, STREAM_TYPE) or ""
        if kind in {t.value for t in expected}:
            streams[StreamType(kind)] = stream
    return SpdyCommandStreams(session, streams, protocol, stall_timeout)


def _pair_key(stream: Stream) -> str:
    """The requestID header, or kubelet's guess for clients too old to send one."""
    request_id = header_value(stream.headers, REQUEST_ID)
    if request_id:
        return request_id
    data = header_value(stream.headers, STREAM_TYPE) == StreamType.DATA.value
    return str(stream.id - 2 if data else stream.id)


def _valid_port_stream(stream: Stream, allowed: set[int]) -> int | None:
    port_text = header_value(stream.headers, PORT) or ""
    kind = header_value(stream.headers, STREAM_TYPE)
    if not port_text.isdigit() or kind not in (StreamType.DATA.value, StreamType.ERROR.value):
        return None
    port = int(port_text)
    if not 0 < port < 65536 or (allowed and port not in allowed):
        return None
    return port


def serve_port_forward(
    sock: socket.socket,
    allowed: set[int],
    dial: Callable[[int], socket.socket],
    stall_timeout: float,
) -> None:
    """Every (error, data) stream pair with one requestID is one forwarded connection; a
    client that opens no window for ``stall_timeout`` seconds loses that connection."""
    incoming: queue.Queue[tuple[Stream, int]] = queue.Queue()

    def on_stream(stream: Stream) -> None:
        port = _valid_port_stream(stream, allowed)
        if port is None:
            stream.refuse()
            return
        stream.reply()
        incoming.put((stream, port))

    session = Session(sock, server=True, on_stream=on_stream).start()
    connections = PodConnections()
    session.closed.subscribe(connections.cut)
    pairs: dict[str, dict[str, Stream]] = {}
    while not session.closed.is_set():
        try:
            stream, port = incoming.get(timeout=0.5)
        except queue.Empty:
            continue
        pair = pairs.setdefault(_pair_key(stream), {})
        pair[header_value(stream.headers, STREAM_TYPE) or ""] = stream
        if len(pair) == 2:
            del pairs[_pair_key(stream)]
            threading.Thread(
                target=_forward,
                args=(pair[StreamType.DATA.value], pair[StreamType.ERROR.value], port, dial),
                kwargs={"stall_timeout": stall_timeout, "connections": connections},
                name=f"forward-{port}",
                daemon=True,
            ).start()
    session.close()


def _forward(
    data: Stream,
    error: Stream,
    port: int,
    dial: Callable[[int], socket.socket],
    stall_timeout: float,
    connections: PodConnections,
) -> None:
    try:
        conn = dial(port)
    except OSError as failure:
        with contextlib.suppress(ConnectionError):
            error.write(f"error forwarding port {port} to pod: {failure}".encode())
            error.close_write()
            data.close_write()
        return
    with connections.opened(conn):
        splice(conn, data.read, lambda chunk: data.write(chunk, stall_timeout), data.close_write)
    with contextlib.suppress(ConnectionError):
        error.close_write()
