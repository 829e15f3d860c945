"""The shim's streaming server over a backend of local processes, for its own logic only.

Conformance runs never see this backend: it stands in for the VM backend so the server's
protocol handling can be tested with the harness's real clients, fast and without Docker.
"""

from __future__ import annotations

import fcntl
import http.server
import os
import pty
import queue
import socket
import struct
import subprocess
import termios
import threading
from collections.abc import Iterator

import pytest

from harness.streaming.remotecommand import StreamType, TerminalSize
from reference_shim.streaming.server import StreamingServer


class LocalProcess:
    """A host process with pipes, or with a pseudo-terminal for tty sessions."""

    def __init__(self, argv: list[str], tty: bool) -> None:
        self.tty = tty
        if tty:
            self._master, replica = pty.openpty()
            self.popen = subprocess.Popen(
                argv, stdin=replica, stdout=replica, stderr=replica, start_new_session=True
            )
            os.close(replica)
        else:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )

    def write_stdin(self, data: bytes) -> None:
        if self.tty:
            os.write(self._master, data)
        elif self.popen.stdin:
            self.popen.stdin.write(data)
            self.popen.stdin.flush()

    def close_stdin(self) -> None:
        if self.tty:
            os.write(self._master, b"\x04")  # ^D: a terminal's end of input
        elif self.popen.stdin:
            self.popen.stdin.close()

    def output(self) -> Iterator[tuple[StreamType, bytes]]:
        if self.tty:
            while True:
                try:
                    chunk = os.read(self._master, 65536)
                except OSError:  # EIO: the terminal's last writer is gone
                    return
                if not chunk:
                    return
                yield StreamType.STDOUT, chunk
        chunks: queue.Queue[tuple[StreamType, bytes]] = queue.Queue()
        pipes = {StreamType.STDOUT: self.popen.stdout, StreamType.STDERR: self.popen.stderr}

        def drain(kind: StreamType) -> None:
            pipe = pipes[kind]
            assert pipe is not None
            while chunk := pipe.read1(65536):
                chunks.put((kind, chunk))
            chunks.put((kind, b""))

        for kind in pipes:
            threading.Thread(target=drain, args=(kind,), daemon=True).start()
        open_pipes = len(pipes)
        while open_pipes:
            kind, chunk = chunks.get()
            if chunk:
                yield kind, chunk
            else:
                open_pipes -= 1

    def resize(self, size: TerminalSize) -> None:
        packed = struct.pack("HHHH", size.height, size.width, 0, 0)
        fcntl.ioctl(self._master, termios.TIOCSWINSZ, packed)

    def wait(self) -> int | None:
        return self.popen.wait(10)

    def close(self) -> None:
        if self.tty:
            os.close(self._master)


class AttachedProcess(LocalProcess):
    """Attach has no exit status of its own."""

    def wait(self) -> int | None:
        self.popen.wait(10)
        return None


class LocalBackend:
    """ "VMs" are names for argv lists; attach targets are started on first attach."""

    def __init__(self) -> None:
        self.workloads: dict[str, list[str]] = {}
        self.ports: dict[str, int] = {}
        self.execs: list[list[str]] = []
        self.dialled: list[str] = []

    def exec(self, vm_id: str, argv: list[str], *, stdin: bool, tty: bool) -> LocalProcess:
        self.execs.append(argv)
        return LocalProcess(argv, tty)

    def attach(self, vm_id: str, *, stdin: bool, tty: bool) -> LocalProcess:
        return AttachedProcess(self.workloads[vm_id], tty)

    def dial(self, address: str, port: int, timeout: float) -> socket.socket:
        self.dialled.append(address)
        if address != "pod-address":
            raise ConnectionRefusedError(f"nothing listens on {address}:{port}")
        return socket.create_connection(("127.0.0.1", self.ports[str(port)]), timeout=timeout)


@pytest.fixture
def backend() -> LocalBackend:
    return LocalBackend()


@pytest.fixture
def server(backend: LocalBackend) -> Iterator[StreamingServer]:
    streaming = StreamingServer(backend).start()
    yield streaming
    streaming.stop()


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"cri-conformance web server\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_server(backend: LocalBackend) -> Iterator[int]:
    """A page on loopback; the backend forwards the pod's port 80 to it."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    backend.ports["80"] = httpd.server_address[1]
    yield 80
    httpd.shutdown()
