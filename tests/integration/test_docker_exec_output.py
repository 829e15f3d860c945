"""Exec output Docker sent before the shim read the response headers is kept (real Engine).

On a loaded machine a short command can end before the thread that started it reads Docker's
``101 UPGRADED`` answer; its output then arrives with the headers. This test makes that happen
every time: it holds back http.client's header parsing until output waits on the socket. Reading
as docker-py does loses it (ExecSync answered exit 0 with empty stdout; see
reference_shim/backends/docker/exec_stream.py).
"""

from __future__ import annotations

import http.client
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from reference_shim.backends.docker.backend import DockerBackend
from reference_shim.backends.docker.host import docker_host
from reference_shim.backends.docker.streaming import DockerStreaming

BUSYBOX = "127.0.0.1:5000/cri-conformance/busybox:1.0"
LABEL = "cri-conformance.io/test"
COMMAND = ["sh", "-c", "echo out; echo err >&2; exit 3"]
_PEEK_WAIT_S = 30.0


@pytest.fixture(scope="module")
def vm_id() -> Iterator[str]:
    """One labelled busybox container standing in for a VM, removed at the end."""
    api = docker.APIClient(base_url=docker_host(), version="auto")
    api.pull(BUSYBOX)
    labels = {LABEL: f"exec-output-{secrets.token_hex(4)}"}
    created = api.create_container(BUSYBOX, ["sleep", "300"], labels=labels)["Id"]
    try:
        api.start(created)
        yield str(created)
    finally:
        api.remove_container(created, force=True)
        api.close()


@pytest.fixture
def output_arrives_with_the_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    """http.client parses an upgrade answer only once output follows its headers, so the
    buffered reader takes that output in with them."""
    parse = http.client.HTTPResponse.begin

    def begin(response: Any) -> None:
        sock: socket.socket = response.fp.raw._sock
        deadline = time.monotonic() + _PEEK_WAIT_S
        while time.monotonic() < deadline:
            waiting = sock.recv(65536, socket.MSG_PEEK)
            _, end, body = waiting.partition(b"\r\n\r\n")
            if not waiting.startswith(b"HTTP/1.1 101") or (end and body):
                break
            time.sleep(0.01)
        parse(response)

    monkeypatch.setattr(http.client.HTTPResponse, "begin", begin)


@pytest.mark.usefixtures("output_arrives_with_the_headers")
def test_exec_sync_keeps_output_sent_with_the_headers(vm_id: str) -> None:
    backend = DockerBackend(docker_host(), f"exec-output-{secrets.token_hex(4)}")
    result = backend.exec_sync(vm_id, COMMAND, timeout=30)
    assert (result.exit_code, result.stdout, result.stderr) == (3, b"out\n", b"err\n")


@pytest.mark.usefixtures("output_arrives_with_the_headers")
@pytest.mark.parametrize(("tty", "expected"), [(False, b"out\nerr\n"), (True, b"out\r\nerr\r\n")])
def test_streaming_exec_keeps_output_sent_with_the_headers(
    vm_id: str, tty: bool, expected: bytes
) -> None:
    process = DockerStreaming(docker_host()).exec(vm_id, COMMAND, stdin=False, tty=tty)
    try:
        pieces = list(process.output())
        code = process.wait()
    finally:
        process.close()
    received = b"".join(data for _, data in pieces)
    assert sorted(received.splitlines(keepends=True)) == sorted(expected.splitlines(keepends=True))
    assert code == 3
