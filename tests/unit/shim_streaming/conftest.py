"""The shim's streaming server over a backend of local processes, for its own logic only.

Conformance runs never see this backend: it stands in for the VM backend so the server's
protocol handling can be tested with the harness's real clients, fast and without Docker. Its
processes are the shim's own host processes (``streaming.host``), as the Apple backend's are.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from reference_shim.streaming.backend import Process
from reference_shim.streaming.host import host_process
from reference_shim.streaming.server import StreamingServer


class AttachedProcess:
    """A process attached to: the same streams, but attach has no exit status of its own."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.write_stdin = process.write_stdin
        self.close_stdin = process.close_stdin
        self.output = process.output
        self.resize = process.resize
        self.cancel = process.cancel
        self.close = process.close

    def wait(self) -> int | None:
        self.process.wait()
        return None


class LocalBackend:
    """ "VMs" are names for argv lists; attach targets are started on first attach."""

    def __init__(self) -> None:
        self.workloads: dict[str, list[str]] = {}
        self.ports: dict[str, int] = {}
        self.execs: list[list[str]] = []
        self.dialled: list[str] = []
        self.processes: list[Process] = []

    def exec(self, vm_id: str, argv: list[str], *, stdin: bool, tty: bool) -> Process:
        self.execs.append(argv)
        process = host_process(argv, stdin=stdin, tty=tty)
        self.processes.append(process)
        return process

    def attach_refusal(self, stdin: bool) -> str | None:
        return None

    def attach(self, vm_id: str, *, stdin: bool, tty: bool) -> Process:
        return AttachedProcess(host_process(self.workloads[vm_id], stdin=stdin, tty=tty))

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
