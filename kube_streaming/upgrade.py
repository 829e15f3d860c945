"""The HTTP/1.1 upgrade that turns a streaming URL into a SPDY/3.1 connection.

kubelet's streaming servers accept ``POST`` with ``Connection: Upgrade``, ``Upgrade: SPDY/3.1``
and one ``X-Stream-Protocol-Version`` header line per subprotocol offered (Go reads them as
separate values, so they must not be comma-joined); they answer 101 naming the one chosen.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from kube_streaming.errors import (
    ProtocolUnsupported,
    StreamingError,
    refused_upgrade,
    unanswered,
)

PROTOCOL_HEADER = "X-Stream-Protocol-Version"
SPDY_UPGRADE = "SPDY/3.1"
_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class StreamingUrl:
    host: str
    port: int
    target: str
    """Path plus query, as sent on the request line."""

    @classmethod
    def parse(cls, url: str) -> StreamingUrl:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise StreamingError(f"streaming URL {url!r} is not an http:// URL with a host")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.hostname, parts.port or 80, target)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def websocket(self) -> str:
        return f"ws://{self.authority}{self.target}"


@dataclass(frozen=True)
class HttpResponseHead:
    status: int
    headers: tuple[tuple[str, str], ...]

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The bytes up to the blank line ending an HTTP head, and whatever came after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise StreamingError(f"connection closed inside the HTTP head: {data[:200]!r}")
        data += chunk
        if len(data) > _MAX_HEAD:
            raise StreamingError("HTTP head longer than 64 KiB")
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def parse_head_lines(head: bytes) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The start line and the header fields of an HTTP/1.1 head."""
    start, *lines = head.decode("latin-1").split("\r\n")
    headers = tuple(
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in lines if line)
    )
    return start, headers


def _read_body(sock: socket.socket, received: bytes, head: HttpResponseHead) -> str:
    """The short error body that follows a refusal (Content-Length, else up to close)."""
    length = next((int(v) for v in head.get_all("Content-Length") if v.isdigit()), None)
    body = received
    sock.settimeout(2)
    try:
        while length is None or len(body) < length:
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
    except OSError:
        pass
    return body[: length or len(body)].decode("utf-8", "replace")


def spdy_upgrade(
    url: str, protocols: Sequence[str], timeout: float
) -> tuple[socket.socket, str, bytes]:
    """Connect and upgrade; return the socket, the chosen subprotocol and any early bytes."""
    where = StreamingUrl.parse(url)
    offered = "".join(f"{PROTOCOL_HEADER}: {protocol}\r\n" for protocol in protocols)
    request = (
        f"POST {where.target} HTTP/1.1\r\nHost: {where.authority}\r\n"
        f"Connection: Upgrade\r\nUpgrade: {SPDY_UPGRADE}\r\n{offered}"
        "User-Agent: cri-conformance\r\nContent-Length: 0\r\n\r\n"
    )
    try:
        sock = socket.create_connection((where.host, where.port), timeout=timeout)
    except OSError as error:
        raise unanswered(url, "SPDY/3.1 upgrade", timeout, error) from None
    try:
        try:
            sock.sendall(request.encode("latin-1"))
            raw_head, received = read_head(sock)
        except OSError as error:
            raise unanswered(url, "SPDY/3.1 upgrade", timeout, error) from None
        status_line, headers = parse_head_lines(raw_head)
        fields = status_line.split(" ", 2)
        if len(fields) < 2 or not fields[1].isdigit():
            raise StreamingError(f"{url}: not an HTTP response: {status_line!r}")
        head = HttpResponseHead(int(fields[1]), headers)
        wanted = " or ".join(protocols)
        chosen = (head.get_all(PROTOCOL_HEADER) or [""])[0]
        if head.status != 101:
            body = _read_body(sock, received, head)
            raise refused_upgrade(url, f"SPDY/3.1 {wanted}", head.status, body, chosen)
        if not chosen:
            reason = "the server upgraded without any offered subprotocol"
            raise ProtocolUnsupported(f"SPDY/3.1 {wanted}", reason)
        if chosen not in protocols:
            raise StreamingError(f"{url}: the server upgraded with {chosen!r}, never offered")
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)
    return sock, chosen, received
