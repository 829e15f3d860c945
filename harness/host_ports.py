"""Host ports for port-mapping tests, picked by the kernel so parallel tests do not collide."""

from __future__ import annotations

import socket
import urllib.request


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel's pick for an ephemeral bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def http_get(url: str, timeout: float = 5) -> bytes | None:
    """The body of a GET, or None while nothing answers yet (for polling a starting server)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except OSError:
        return None
