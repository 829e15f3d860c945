"""Just enough HTTP/1.1 to route a streaming request before a protocol takes the socket over.

The request head is *peeked*, not read, so a WebSocket request can be handed untouched to the
``websockets`` library, while a SPDY upgrade or an error is answered here.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from kube_streaming.upgrade import parse_head_lines

_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    size: int
    """Bytes of the head including the blank line: what to consume before the body."""

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, over repeated lines and comma-separated lists."""
        return [
            part.strip()
            for key, value in self.headers
            if key.lower() == name.lower()
            for part in value.split(",")
            if part.strip()
        ]

    def tokens(self, name: str) -> set[str]:
        return {value.lower() for value in self.get_all(name)}

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def wants_upgrade(self) -> bool:
        return "upgrade" in self.tokens("Connection")

    @property
    def is_websocket(self) -> bool:
        return self.wants_upgrade and "websocket" in self.tokens("Upgrade")

    @property
    def is_spdy(self) -> bool:
        return self.wants_upgrade and "spdy/3.1" in self.tokens("Upgrade")


def limit_stalled_sends(sock: socket.socket, seconds: float) -> None:
    """A send that moves no byte for ``seconds`` fails (SO_SNDTIMEO), whoever sends: this
    module, the SPDY session or the WebSocket library, all on a blocking socket. A client
    that stops reading then costs a bounded socket buffer for a bounded time."""
    whole = int(seconds)
    timeval = struct.pack("@ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def peek_head(sock: socket.socket, timeout: float) -> RequestHead | None:
    """The request head once it has fully arrived, left unread in the socket; None if the
    client closed or sent no complete head in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(_MAX_HEAD, socket.MSG_PEEK)
        except (TimeoutError, OSError):
            return None
        if not data:
            return None
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            sock.settimeout(None)
            return _parse(data[:end], end + 4)
        if len(data) >= _MAX_HEAD:
            return None
        time.sleep(0.005)  # the rest of the head is on its way; MSG_PEEK cannot wait for it
    return None


def _parse(head: bytes, size: int) -> RequestHead | None:
    start, headers = parse_head_lines(head)
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    return RequestHead(parts[0], parts[1], headers, size)


def consume(sock: socket.socket, head: RequestHead) -> None:
    """Read the peeked head off the socket for real."""
    remaining = head.size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("client closed inside its request head")
        remaining -= len(chunk)


def respond(
    sock: socket.socket,
    status: HTTPStatus,
    body: str = "",
    headers: tuple[tuple[str, str], ...] = (),
) -> None:
    """A complete non-upgrade response; the connection closes after it."""
    payload = (body or f"{status.value} {status.phrase.lower()}\n").encode()
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines += [
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(payload)}",
        "Connection: close",
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)


def switching_protocols(sock: socket.socket, headers: tuple[tuple[str, str], ...]) -> None:
    lines = ["HTTP/1.1 101 Switching Protocols", *(f"{n}: {v}" for n, v in headers)]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
