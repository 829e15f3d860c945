"""Reaching a pod from the test process: a free loopback port, and HTTP with a deadline.

Tests only send traffic to loopback or to pod IPs of the runtime under test (the project's
network rule); nothing here picks an address by itself.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"

# Never through a proxy from the environment: the addresses are local by the network rule.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_loopback_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def http_url(host: str, port: int, path: str = "/") -> str:
    """``http://host:port/path``, with an IPv6 address in brackets."""
    if ipaddress.ip_address(host).version == 6:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


@dataclass(frozen=True)
class Answer:
    """What one HTTP GET got: a status and body, or the error that stopped it."""

    status: int = 0
    body: bytes = b""
    error: str = ""


def http_get(url: str, timeout: float = 5.0) -> Answer:
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return Answer(status=response.status, body=response.read())
    except urllib.error.HTTPError as error:
        return Answer(status=error.code, body=error.read())
    except (urllib.error.URLError, OSError) as error:
        return Answer(error=str(error))
