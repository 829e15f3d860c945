"""What the streaming server needs from a VM backend: processes with live stdio, and sockets.

The server speaks the protocols; a backend only runs things. The Docker backend implements
this with ``docker exec`` and ``docker attach`` on raw hijacked sockets, the Apple backend
with ``container exec`` child processes and the output its keepers record.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Protocol

from kube_streaming.remotecommand import StreamType, TerminalSize


class Process(Protocol):
    """An exec'd command or an attached container, its stdio open."""

    def write_stdin(self, data: bytes) -> None: ...

    def close_stdin(self) -> None:
        """End of input: the command reads EOF (for attach: as the container's config says)."""

    def output(self) -> Iterator[tuple[StreamType, bytes]]:
        """STDOUT/STDERR chunks as the process writes them, until its output ends."""

    def resize(self, size: TerminalSize) -> None: ...

    def wait(self) -> int | None:
        """The exit code once the output ended; None when there is none (attach)."""

    def cancel(self) -> None:
        """The client went away: end what the session started (an exec's processes; an
        attach only lets go) and make ``output`` end soon. Called on another thread, and
        harmless after the process ended."""

    def close(self) -> None: ...


class StreamingBackend(Protocol):
    def exec(self, vm_id: str, argv: list[str], *, stdin: bool, tty: bool) -> Process: ...

    def attach_refusal(self, stdin: bool) -> str | None:
        """Why an attach with these streams cannot be served, or None. Asked at the CRI
        Attach call, so the client hears UNIMPLEMENTED and the reason, not a broken stream."""

    def attach(self, vm_id: str, *, stdin: bool, tty: bool) -> Process: ...

    def dial(self, address: str, port: int, timeout: float) -> socket.socket:
        """A TCP connection to ``port`` inside the pod whose address is ``address``."""


def dial_directly(address: str, port: int, timeout: float) -> socket.socket:
    """``dial`` for a backend whose host reaches pod addresses itself (Docker's bridge
    network, Apple's vmnet): a plain TCP connection, with no timeout once connected."""
    connection = socket.create_connection((address, port), timeout=timeout)
    connection.settimeout(None)
    return connection
