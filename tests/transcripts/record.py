"""Record the streaming transcripts the shim's server is replayed against.

    .venv/bin/python tests/transcripts/record.py [--endpoint unix:///.../containerd.sock]

For every case of ``wire_transcripts.CASES``: a pod and a container on the runtime (the
busybox test image from the local registry), the URL of its Exec, Attach or PortForward, and a
pass-through TCP proxy on loopback in front of the runtime's streaming server. The harness's
client drives the session through the proxy, which writes down every byte either way; the
transcript goes to ``tests/transcripts/<case>.json``. The default endpoint is containerd 1.6
of ``scripts/services`` (``$CONTAINERD_ENDPOINT``). A case the runtime refuses is reported
and left as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

from cri_api.v1 import api_pb2 as cri

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for wire_transcripts

from wire_transcripts import (
    CASES,
    PING,
    POD_SERVER,
    PONG,
    PORT,
    PROGRAM,
    STDIN,
    Case,
    Transcript,
)

from harness.builders import container_config, pod_config
from harness.client import CriClient
from harness.endpoints import Endpoints
from harness.streaming import (
    StreamOptions,
    Transport,
    connect_remote_command,
)
from harness.streaming.spdy_client import SpdyPortForward
from harness.streaming.websocket_client import WebSocketPortForward
from kube_streaming.upgrade import StreamingUrl

IMAGE = "127.0.0.1:5000/cri-conformance/busybox:1.0"
RUN_ID = "transcripts"
TIMEOUT = 20.0


class RecordingProxy:
    """Accepts one connection on loopback, opens one to ``upstream``, and copies both ways,
    writing every chunk into ``transcript`` in the order it arrived, and an empty one where a
    side closed its end."""

    def __init__(self, upstream: tuple[str, int], transcript: Transcript) -> None:
        self.upstream = upstream
        self.transcript = transcript
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        client, _ = self._listener.accept()
        server = socket.create_connection(self.upstream)
        copies = [
            threading.Thread(target=self._copy, args=(client, server, "client"), daemon=True),
            threading.Thread(target=self._copy, args=(server, client, "server"), daemon=True),
        ]
        for copy in copies:
            copy.start()
        for copy in copies:
            copy.join()
        client.close()
        server.close()

    def _copy(self, source: socket.socket, sink: socket.socket, side: str) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                with self._lock:
                    self.transcript.events.append((side, chunk))
                sink.sendall(chunk)
        with self._lock:  # b"": this side closed its end (or the connection broke)
            self.transcript.events.append((side, b""))
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def url_for(self, url: str) -> str:
        target = StreamingUrl.parse(url).target
        return f"http://127.0.0.1:{self.port}{target}"

    def finish(self) -> None:
        self._thread.join(TIMEOUT)
        self._listener.close()


def drive(case: Case, url: str) -> None:
    """The client's side of the case, as the harness speaks it."""
    transport = Transport.SPDY if case.transport == "spdy" else Transport.WEBSOCKET
    if case.kind == "portforward":
        if transport is Transport.SPDY:
            forward: SpdyPortForward | WebSocketPortForward = SpdyPortForward(url, TIMEOUT)
        else:
            forward = WebSocketPortForward(url, [PORT], TIMEOUT)
        with forward:
            connection = forward.connect(PORT)
            connection.send(PING)
            received = connection.read_until_closed(TIMEOUT)
            assert PONG in received, received
        return
    options = StreamOptions(stdin=True, stdout=True, stderr=not case.tty, tty=case.tty)
    with connect_remote_command(url, transport, options, TIMEOUT) as session:
        session.write_stdin(STDIN)
        result = session.wait()
    print(f"  {case.name}: exit {result.exit_code}, stdout {result.stdout!r}")


@contextlib.contextmanager
def pod(client: CriClient, case: Case) -> Iterator[tuple[str, str]]:
    """A pod with one container: the pod server, or ``PROGRAM`` waiting on its stdin."""
    config = pod_config(f"transcript-{case.name}", run_id=RUN_ID, uid=str(uuid.uuid4()))
    pod_id = client.run_pod(config)
    try:
        command = POD_SERVER if case.kind == "portforward" else PROGRAM
        if case.kind == "exec":
            command = ["sleep", "3600"]
        container = container_config(
            "main",
            IMAGE,
            run_id=RUN_ID,
            command=command,
            stdin=case.kind == "attach",
            tty=case.tty,
        )
        container_id = client.create_container(pod_id, container, config)
        client.start_container(container_id)
        yield pod_id, container_id
    finally:
        client.stop_pod(pod_id)
        client.remove_pod(pod_id)


def url_of(client: CriClient, case: Case, pod_id: str, container_id: str) -> str:
    if case.kind == "portforward":
        return client.port_forward_url(pod_id, [PORT])
    streams = {"stdin": True, "stdout": True, "stderr": not case.tty, "tty": case.tty}
    if case.kind == "exec":
        return client.exec_url(cri.ExecRequest(container_id=container_id, cmd=PROGRAM, **streams))
    return client.attach_url(cri.AttachRequest(container_id=container_id, **streams))


def record(client: CriClient, case: Case, source: str) -> None:
    with pod(client, case) as (pod_id, container_id):
        url = url_of(client, case, pod_id, container_id)
        where = StreamingUrl.parse(url)
        transcript = Transcript(case, source)
        proxy = RecordingProxy((where.host, where.port), transcript)
        drive(case, proxy.url_for(url))
        proxy.finish()
    transcript.save()
    print(f"{case.name}: {len(transcript.events)} chunks -> {case.path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default=os.environ.get("CONTAINERD_ENDPOINT"))
    parser.add_argument("--source", help="what to name the runtime in the transcripts")
    parser.add_argument("--transport", choices=["spdy", "websocket"], help="only these cases")
    args = parser.parse_args()
    if not args.endpoint:
        parser.error("no --endpoint and no $CONTAINERD_ENDPOINT (see scripts/services env)")
    client = CriClient(Endpoints(args.endpoint, args.endpoint, "record"), timeout=TIMEOUT)
    version = client.connect()
    source = args.source or f"{version.runtime_name} {version.runtime_version}"
    client.pull_image(IMAGE)
    failed = 0
    for case in CASES:
        if args.transport and case.transport != args.transport:
            continue
        try:
            record(client, case, source)
        except Exception as error:  # report every case, then fail
            print(f"{case.name}: not recorded: {type(error).__name__}: {error}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
