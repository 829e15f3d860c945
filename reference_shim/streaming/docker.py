"""Streaming on the Docker backend: ``docker exec``/``attach`` on raw hijacked sockets.

Docker multiplexes stdout and stderr on one socket unless a tty merges them; writing to the
socket is the process's stdin and half-closing it is stdin EOF; output is read through the
connection's HTTP reader, which may already hold its first bytes (see hijack.py). Port
forwarding connects to the pod VM's address on the shim's Docker network, which the host
reaches directly.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import docker

from harness.streaming.remotecommand import StreamType, TerminalSize
from reference_shim.backends.docker.execs import exec_exit_code
from reference_shim.backends.docker.hijack import STDERR, Hijacked
from reference_shim.streaming.backend import dial_directly

_API_TIMEOUT_S = 30


class DockerProcess:
    def __init__(
        self,
        connection: Hijacked,
        tty: bool,
        on_resize: Callable[[TerminalSize], None],
        exit_code: Callable[[], int | None],
    ) -> None:
        self._connection = connection
        self._tty = tty
        self._on_resize = on_resize
        self._exit_code = exit_code

    def write_stdin(self, data: bytes) -> None:
        self._connection.socket.sendall(data)

    def close_stdin(self) -> None:
        self._connection.socket.shutdown(socket.SHUT_WR)

    def output(self) -> Iterator[tuple[StreamType, bytes]]:
        for stream, data in self._connection.frames(self._tty):
            yield (StreamType.STDERR if stream == STDERR else StreamType.STDOUT), data

    def resize(self, size: TerminalSize) -> None:
        self._on_resize(size)

    def wait(self) -> int | None:
        return self._exit_code()

    def close(self) -> None:
        self._connection.close()


class DockerStreaming:
    """The ``StreamingBackend`` of the Docker backend; VM ids are Docker container ids."""

    def __init__(self, base_url: str) -> None:
        self._api: Any = docker.APIClient(base_url=base_url, version="auto", timeout=_API_TIMEOUT_S)

    def exec(self, vm_id: str, argv: list[str], *, stdin: bool, tty: bool) -> DockerProcess:
        exec_id = self._api.exec_create(
            vm_id, argv, stdin=stdin, stdout=True, stderr=True, tty=tty
        )["Id"]
        connection = Hijacked.of(self._api.exec_start(exec_id, socket=True, tty=tty))

        def resize(size: TerminalSize) -> None:
            self._api.exec_resize(exec_id, height=size.height, width=size.width)

        return DockerProcess(connection, tty, resize, lambda: exec_exit_code(self._api, exec_id))

    def attach(self, vm_id: str, *, stdin: bool, tty: bool) -> DockerProcess:
        params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1}
        connection = Hijacked.of(self._api.attach_socket(vm_id, params=params))

        def resize(size: TerminalSize) -> None:
            self._api.resize(vm_id, height=size.height, width=size.width)

        return DockerProcess(connection, tty, resize, lambda: None)

    def attach_refusal(self, stdin: bool) -> str | None:
        """Docker attaches every stream."""
        return None

    def dial(self, address: str, port: int, timeout: float) -> socket.socket:
        return dial_directly(address, port, timeout)
