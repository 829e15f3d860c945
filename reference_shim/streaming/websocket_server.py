"""The server side of WebSocket streaming (``channel.k8s.io`` family), on ``websockets``.

What a client sends is held in bounded queues: at most ``MAX_MESSAGE`` bytes times
``LIBRARY_FRAMES + HELD_MESSAGES + 1`` per channel, however fast it sends and however slowly
the command reads.

remotecommand: ``v5.channel.k8s.io`` (with the close signal), ``v4.channel.k8s.io`` (status
JSON on channel 3), ``channel.k8s.io`` and no subprotocol (v1: an error message on failure).
portforward: ``v4.channel.k8s.io`` and ``channel.k8s.io``, two channels per requested port.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from kube_streaming.notice import Notice, hung_up
from kube_streaming.portforward import channels, port_index, port_prefix
from kube_streaming.remotecommand import (
    V1_CHANNEL,
    V4_CHANNEL,
    V5_CHANNEL,
    Channel,
    StreamOptions,
    StreamType,
    TerminalSize,
    decode_status,
)
from reference_shim.streaming.forward import PodConnections, splice

REMOTECOMMAND_PROTOCOLS = (V5_CHANNEL, V4_CHANNEL, V1_CHANNEL)
PORT_FORWARD_PROTOCOLS = (V4_CHANNEL, V1_CHANNEL)
MAX_MESSAGE = 8 * 1024 * 1024
"""The largest message a client may send (kubectl sends 32 KiB; x/net/websocket, under
kubelet, allows 32 MiB): a larger one closes the connection with 1009, message too big."""
LIBRARY_FRAMES = 2
"""Frames the library holds before it stops reading the socket."""
HELD_MESSAGES = 4
"""Client messages held per channel for a reader that is behind."""
_HANGUP_POLL_S = 0.5
_Item = TypeVar("_Item")
_OUTPUT_CHANNELS = {StreamType.STDOUT: Channel.STDOUT, StreamType.STDERR: Channel.STDERR}


def choose(offered: list[str], supported: tuple[str, ...]) -> str | None:
    """The client's most preferred subprotocol we speak."""
    return next((protocol for protocol in offered if protocol in supported), None)


def _hold(held: queue.Queue[bytes], chunk: bytes, ws: ServerConnection) -> None:
    """Queue client input for a reader that may be behind, waiting while ``held`` is full:
    the library then stops reading the socket, so a client that sends faster than the
    command takes waits, as over TCP. A client that hangs up meanwhile ends the session."""
    while True:
        try:
            held.put(chunk, timeout=_HANGUP_POLL_S)
            return
        except queue.Full:
            if hung_up(ws.socket):
                raise ConnectionResetError("the client hung up with input unread") from None


def _end(held: queue.Queue[_Item], marker: _Item) -> None:
    """Tell the reader the input ended; input it did not take is dropped, the session is over."""
    while True:
        try:
            held.put_nowait(marker)
            return
        except queue.Full:
            with contextlib.suppress(queue.Empty):
                held.get_nowait()


def _binary_messages(ws: ServerConnection) -> Iterator[bytes]:
    """Messages that carry a channel byte, until the socket closes."""
    try:
        for message in ws:
            if isinstance(message, bytes) and message:
                yield message
    except ConnectionClosed:
        return


class WebSocketCommandStreams:
    """The channels of one exec/attach WebSocket, as ``serve_command`` drives them."""

    def __init__(self, ws: ServerConnection, options: StreamOptions) -> None:
        self.ws = ws
        self.protocol = ws.subprotocol or V1_CHANNEL
        self.departed = Notice()
        self._stdin: queue.Queue[bytes] = queue.Queue(HELD_MESSAGES)
        self._resizes: queue.Queue[TerminalSize | None] = queue.Queue(HELD_MESSAGES)
        threading.Thread(target=self._receive, name="ws-receive", daemon=True).start()
        # kubelet announces the session with an empty message on the first output channel.
        first = Channel.STDOUT if options.stdout else Channel.STDERR
        self._send(first if options.stdout or options.stderr else Channel.ERROR, b"")

    def _receive(self) -> None:
        try:
            for message in _binary_messages(self.ws):
                self._route(message)
        except ConnectionResetError:
            pass
        finally:  # the library reads until the connection ends, so this is its end
            # Departure first: the stdin pump must not take the end of input for the
            # client's EOF and let the command end by itself (cat exits 0 at ^D).
            self.departed.set()
            _end(self._stdin, b"")
            _end(self._resizes, None)

    def _route(self, message: bytes) -> None:
        channel, payload = message[0], message[1:]
        if channel == Channel.STDIN and payload:
            _hold(self._stdin, payload, self.ws)
        elif channel == Channel.RESIZE and payload:
            # Only the latest size matters: one that finds the queue full is dropped.
            with contextlib.suppress(ValueError, KeyError, TypeError, queue.Full):
                self._resizes.put_nowait(TerminalSize.decode(json.loads(payload)))
        elif self._closes_stdin(channel, payload):
            _hold(self._stdin, b"", self.ws)

    def _closes_stdin(self, channel: int, payload: bytes) -> bool:
        """v5's close signal for stdin; under v4, channel 255 is just an unknown channel."""
        close_stdin = (channel, payload[:1]) == (Channel.CLOSE, bytes([Channel.STDIN]))
        return close_stdin and self.protocol == V5_CHANNEL

    def _send(self, channel: int, data: bytes) -> None:
        self.ws.send(bytes([channel]) + data)

    def read_stdin(self) -> bytes:
        return self._stdin.get()

    def next_resize(self) -> TerminalSize | None:
        return self._resizes.get()

    def write_output(self, kind: StreamType, data: bytes) -> None:
        self._send(_OUTPUT_CHANNELS[kind], data)

    def finish(self, status: bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            if self.protocol in (V4_CHANNEL, V5_CHANNEL):
                self._send(Channel.ERROR, status)
            elif decode_status(status).exit_code != 0:
                self._send(Channel.ERROR, decode_status(status).message.encode())
        self.ws.close()


def serve_port_forward(
    ws: ServerConnection, ports: list[int], dial: Callable[[int], socket.socket]
) -> None:
    """Port i gets channels 2i (data) and 2i+1 (errors), each opening with the port."""
    inbound: list[queue.Queue[bytes]] = [queue.Queue(HELD_MESSAGES) for _ in ports]
    connections = PodConnections()

    def receive() -> None:
        try:
            for message in _binary_messages(ws):
                index, is_error = port_index(message[0])
                if index < len(ports) and not is_error and len(message) > 1:
                    _hold(inbound[index], message[1:], ws)
        except ConnectionResetError:
            pass
        finally:  # the client left (or the session ended): so do the pod connections
            for channel_queue in inbound:
                _end(channel_queue, b"")
            connections.cut()

    def forward(index: int, port: int) -> None:
        data, errors = channels(index)
        try:
            conn = dial(port)
        except OSError as failure:
            with contextlib.suppress(ConnectionClosed):
                ws.send(bytes([errors]) + f"error forwarding port {port}: {failure}".encode())
            return

        def to_client(chunk: bytes) -> None:
            try:
                ws.send(bytes([data]) + chunk)
            except ConnectionClosed as closed:  # splice ends on an OSError
                raise ConnectionResetError(f"the client left: {closed}") from closed

        with connections.opened(conn):
            splice(conn, inbound[index].get, to_client, lambda: None)

    for index, port in enumerate(ports):
        for channel in channels(index):
            ws.send(bytes([channel]) + port_prefix(port))
    threading.Thread(target=receive, name="ws-receive", daemon=True).start()
    workers = [
        threading.Thread(target=forward, args=(i, p), name=f"forward-{p}", daemon=True)
        for i, p in enumerate(ports)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    ws.close()
