"""The shim's WebSocket streaming, read by the ``kubernetes`` client's own implementation.

The harness's WebSocket client and the shim's server share the channel constants and status
encoding (``kube_streaming``); ``kubernetes.stream.ws_client`` shares nothing with either.
"""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as cri
from kubernetes_stream import forward, run

from reference_shim.streaming.server import StreamingServer
from reference_shim.streaming.tokens import Kind

from .conftest import LocalBackend

PROGRAM = ["sh", "-c", "read line; echo out:$line; echo err:$line >&2; exit 3"]


def exec_url(server: StreamingServer, cmd: list[str]) -> str:
    request = cri.ExecRequest(container_id="vm", cmd=cmd, stdin=True, stdout=True, stderr=True)
    return server.url(Kind.EXEC, request, "vm")


def test_v4_exec_streams_and_exit_code(server: StreamingServer) -> None:
    finished = run(exec_url(server, PROGRAM), b"hello\n", protocol="v4.channel.k8s.io")
    assert (finished.stdout, finished.stderr) == (b"out:hello\n", b"err:hello\n")
    assert finished.returncode == 3


def test_v5_by_default_and_its_close_ends_stdin(server: StreamingServer) -> None:
    """The client offers v5 first; its close signal is the command's end of input."""
    finished = run(exec_url(server, ["cat"]), b"one\ntwo\n", close_stdin=True)
    assert (finished.stdout, finished.stderr, finished.returncode) == (b"one\ntwo\n", b"", 0)


def test_attach_status_is_success(server: StreamingServer, backend: LocalBackend) -> None:
    backend.workloads["vm"] = PROGRAM
    request = cri.AttachRequest(container_id="vm", stdin=True, stdout=True, stderr=True)
    finished = run(server.url(Kind.ATTACH, request, "vm"), b"hi\n", "v4.channel.k8s.io")
    assert (finished.stdout, finished.stderr, finished.returncode) == (b"out:hi\n", b"err:hi\n", 0)


@pytest.mark.usefixtures("backend")
def test_port_forward(server: StreamingServer, web_server: int) -> None:
    request = cri.PortForwardRequest(pod_sandbox_id="pod", port=[web_server])
    url = server.url(Kind.PORT_FORWARD, request, "pod-address")
    received = forward(url, web_server, b"GET / HTTP/1.0\r\n\r\n")
    assert received.startswith(b"HTTP/1.0 200"), received[:200]
