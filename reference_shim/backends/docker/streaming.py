"""Streaming on the Docker backend: ``docker exec``/``attach`` on raw hijacked sockets.

Docker multiplexes stdout and stderr on one socket unless a tty merges them; writing to the
socket is the process's stdin and half-closing it is stdin EOF. Docker cannot end an exec, so
one whose client left is killed by its host PIDs (``exec_kill``). Port forwarding connects to
the pod VM's address on the shim's Docker network, which the host reaches directly.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

from docker.utils.socket import STDERR

from kube_streaming.remotecommand import StreamType, TerminalSize
from reference_shim.backends.docker import exec_stream
from reference_shim.backends.docker.engine_client import engine_client
from reference_shim.backends.docker.exec_kill import kill_exec
from reference_shim.backends.docker.execs import exec_exit_code
from reference_shim.streaming.backend import dial_directly

log = logging.getLogger(__name__)

_API_TIMEOUT_S = 30


class DockerProcess:
    def __init__(
        self,
        hijacked: Any,
        tty: bool,
        on_resize: Callable[[TerminalSize], None],
        exit_code: Callable[[], int | None],
        end: Callable[[], None] = lambda: None,
    ) -> None:
        self._hijacked = hijacked  # a SocketIO over the connection docker-py upgraded
        self._reader = exec_stream.buffered_reader(hijacked)
        self._socket: socket.socket = getattr(hijacked, "_sock", hijacked)
        self._socket.settimeout(None)  # the API client's timeout must not cut a live session
        self._tty = tty
        self._on_resize = on_resize
        self._exit_code = exit_code
        self._end = end

    def write_stdin(self, data: bytes) -> None:
        self._socket.sendall(data)

    def close_stdin(self) -> None:
        self._socket.shutdown(socket.SHUT_WR)

    def output(self) -> Iterator[tuple[StreamType, bytes]]:
        for stream, data in exec_stream.frames(self._reader, self._tty):
            yield (StreamType.STDERR if stream == STDERR else StreamType.STDOUT), data

    def resize(self, size: TerminalSize) -> None:
        self._on_resize(size)

    def wait(self) -> int | None:
        return self._exit_code()

    def cancel(self) -> None:
        """End the exec's processes, then cut the stream: the output reader wakes either way
        (a socket shut down, unlike one closed, wakes a thread blocked reading it)."""
        try:
            self._end()
        finally:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        exec_stream.close(self._hijacked)


class DockerStreaming:
    """The ``StreamingBackend`` of the Docker backend; VM ids are Docker container ids."""

    def __init__(self, base_url: str) -> None:
        self._api: Any = engine_client(base_url, _API_TIMEOUT_S)

    def exec(self, vm_id: str, argv: list[str], *, stdin: bool, tty: bool) -> DockerProcess:
        exec_id = self._api.exec_create(
            vm_id, argv, stdin=stdin, stdout=True, stderr=True, tty=tty
        )["Id"]
        hijacked = self._api.exec_start(exec_id, socket=True, tty=tty)

        def resize(size: TerminalSize) -> None:
            self._api.exec_resize(exec_id, height=size.height, width=size.width)

        def end() -> None:
            killed = kill_exec(self._api, exec_id, vm_id)
            log.info("exec %s: %d of its processes killed", exec_id[:12], killed)

        exit_code = functools.partial(exec_exit_code, self._api, exec_id)
        return DockerProcess(hijacked, tty, resize, exit_code, end)

    def attach(self, vm_id: str, *, stdin: bool, tty: bool) -> DockerProcess:
        params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1}
        hijacked = self._api.attach_socket(vm_id, params=params)

        def resize(size: TerminalSize) -> None:
            self._api.resize(vm_id, height=size.height, width=size.width)

        return DockerProcess(hijacked, tty, resize, lambda: None)

    def attach_refusal(self, stdin: bool) -> str | None:
        """Docker attaches every stream."""
        return None

    def dial(self, address: str, port: int, timeout: float) -> socket.socket:
        return dial_directly(address, port, timeout)
