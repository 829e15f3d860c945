"""The shim's streaming server answers a recorded client as containerd did.

Each transcript (``tests/transcripts/``, recorded from containerd 1.6 by
``tests/transcripts/record.py``) is replayed byte for byte against the server over local
processes, and the server's answer is compared with containerd's after the normalisation
``wire_transcripts`` documents. Neither side of the comparison is read with the shim's own
framing code.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from cri_api.v1 import api_pb2 as cri
from framing_bugs import BUGS
from wire_transcripts import CASES, PORT, PROGRAM, Case, Transcript, replay, server_summary

from reference_shim.streaming.server import StreamingServer
from reference_shim.streaming.tokens import Kind

from .conftest import LocalBackend


class _Pong(socketserver.BaseRequestHandler):
    """The pod server of the recordings (busybox nc): answers the first line and closes."""

    def handle(self) -> None:
        line = self.request.makefile("rb").readline()
        self.request.sendall(b"pong:" + line)


@pytest.fixture
def pong_server(backend: LocalBackend) -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Pong)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    backend.ports[str(PORT)] = server.server_address[1]
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def shim_url(case: Case, server: StreamingServer, backend: LocalBackend) -> str:
    """A URL of the shim for the request the recorded session was made for."""
    streams = {"stdin": True, "stdout": True, "stderr": not case.tty, "tty": case.tty}
    if case.kind == "exec":
        return server.url(
            Kind.EXEC, cri.ExecRequest(container_id="vm", cmd=PROGRAM, **streams), "vm"
        )
    if case.kind == "attach":
        backend.workloads["vm"] = PROGRAM
        return server.url(Kind.ATTACH, cri.AttachRequest(container_id="vm", **streams), "vm")
    request = cri.PortForwardRequest(pod_sandbox_id="pod", port=[PORT])
    return server.url(Kind.PORT_FORWARD, request, "pod-address")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_shim_answers_a_recorded_client_as_containerd_did(
    case: Case, server: StreamingServer, backend: LocalBackend, pong_server: int
) -> None:
    transcript = Transcript.load(case)
    url = urlsplit(shim_url(case, server, backend))
    answer = replay(case, transcript, (url.hostname or "", url.port or 0), url.path)
    assert server_summary(case, answer) == server_summary(case, transcript.sent_by("server"))


@pytest.mark.parametrize(
    ("bug", "case"),
    [("fin-flag", Case("exec", "spdy")), ("swapped-channels", Case("exec", "websocket"))],
    ids=["fin-flag", "swapped-channels"],
)
def test_a_framing_bug_the_harness_client_shares_fails_the_replay(
    bug: str,
    case: Case,
    server: StreamingServer,
    backend: LocalBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The replay can fail: with a bug in the shared wire code, the shim answers otherwise."""
    BUGS[bug](monkeypatch)
    transcript = Transcript.load(case)
    url = urlsplit(shim_url(case, server, backend))
    answer = replay(case, transcript, (url.hostname or "", url.port or 0), url.path)
    assert server_summary(case, answer) != server_summary(case, transcript.sent_by("server"))
