"""Streaming: Exec, Attach and PortForward, driven through the URL the runtime returns.

Each behaviour runs over every transport a kubelet-era client may use: SPDY/3.1 (kubelet,
crictl), WebSocket v4.channel.k8s.io and v5.channel.k8s.io (newer clients). A transport the
runtime declines raises ProtocolUnsupported and is recorded as unsupported, not as a failure.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable

import pytest
from cri_api.v1 import api_pb2 as api

from harness import streaming
from harness.client import CriClient
from harness.factories import Container, ContainerFactory, Pod, PodFactory
from harness.images.catalog import ImageCatalog
from harness.readiness import WEB_PORT, start_webserver
from harness.streaming import StreamNotFound, Transport
from harness.streaming.probes import (
    ATTACH_PROBE,
    converse_with_attach_probe,
    expected_terminal_size,
    terminal_size_probe,
)
from harness.waiting import wait_for_exit

EVERY_TRANSPORT = tuple(Transport)
PORT_FORWARD_TRANSPORTS = (Transport.SPDY, Transport.WEBSOCKET)


def each_transport(
    feature: str, transports: Iterable[Transport] = EVERY_TRANSPORT
) -> pytest.MarkDecorator:
    """Run the test once per transport, each its own matrix row ``<feature>.<transport>``."""
    return pytest.mark.parametrize(
        "transport",
        [
            pytest.param(t, id=t.value, marks=pytest.mark.feature(f"{feature}.{t.value}"))
            for t in transports
        ],
    )


@each_transport("streaming.exec")
def test_exec_returns_stdout_stderr_and_the_exit_code(
    cri: CriClient, shared_container: Container, transport: Transport
) -> None:
    failed = streaming.run_exec(
        cri, shared_container.id, ["sh", "-c", "echo out; echo err >&2; exit 3"], transport
    )
    assert (failed.stdout, failed.stderr, failed.exit_code) == (b"out\n", b"err\n", 3)
    assert failed.status.document["reason"] == "NonZeroExitCode"

    succeeded = streaming.run_exec(cri, shared_container.id, ["sh", "-c", "echo fine"], transport)
    assert (succeeded.stdout, succeeded.stderr, succeeded.exit_code) == (b"fine\n", b"", 0)
    assert succeeded.status.document["status"] == "Success"


@each_transport("streaming.exec-stdin")
def test_exec_feeds_stdin_to_the_command(
    cri: CriClient, shared_container: Container, transport: Transport
) -> None:
    payload = b"".join(b"line %06d of the stdin payload\n" % i for i in range(4000))  # 128 KB
    # `cat` ends at EOF; v4 WebSocket cannot send EOF, so there `head -c` stops by count.
    command = ["head", "-c", str(len(payload))] if transport is Transport.WEBSOCKET else ["cat"]
    result = streaming.run_exec(cri, shared_container.id, command, transport, stdin=payload)
    assert result.exit_code == 0, result.status.message
    assert len(result.stdout) == len(payload)
    assert result.stdout == payload


@each_transport("streaming.exec-tty")
def test_exec_with_a_tty_runs_on_a_terminal_and_follows_resize(
    cri: CriClient, shared_container: Container, transport: Transport
) -> None:
    request = api.ExecRequest(
        container_id=shared_container.id,
        cmd=terminal_size_probe(width=100, height=30),
        stdin=True,
        stdout=True,
        tty=True,
    )
    with streaming.start_exec(cri, request, transport) as session:
        session.resize(width=100, height=30)
        result = session.wait()
    assert result.exit_code == 0, result.status.message
    assert expected_terminal_size(width=100, height=30) in result.stdout, result.stdout
    assert result.stderr == b""


@each_transport("streaming.attach")
def test_attach_reaches_the_container_stdin_stdout_and_stderr(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, transport: Transport
) -> None:
    container = make_container(shared_pod, command=ATTACH_PROBE, stdin=True)
    request = api.AttachRequest(container_id=container.id, stdin=True, stdout=True, stderr=True)
    with streaming.start_attach(cri, request, transport) as session:
        result = converse_with_attach_probe(session)
    assert result.stdout.endswith(b"ready\ngot:hello\n"), result.stdout
    assert result.stderr.endswith(b"ready\nbye:hello\n"), result.stderr
    assert result.exit_code == 0, result.status.message
    assert wait_for_exit(cri, container.id).exit_code == 0  # the attach ended with the container


def http_get_through_port_forward(
    cri: CriClient, pod_id: str, transport: Transport, port: int
) -> bytes:
    """One HTTP/1.0 GET (the server closes after answering) through a new session."""
    with streaming.open_port_forward(cri, pod_id, [port], transport) as forward:
        connection = forward.connect(port)
        connection.send(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        return connection.read_until_closed()


def assert_web_page_through_port_forward(cri: CriClient, pod_id: str, transport: Transport) -> None:
    """Asked once the web server listens: an empty or wrong answer is the forward's fault."""
    response = http_get_through_port_forward(cri, pod_id, transport, WEB_PORT)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] in (b"HTTP/1.0 200 OK", b"HTTP/1.1 200 OK"), head
    assert body == b"cri-conformance web server\n"


@each_transport("streaming.portforward", PORT_FORWARD_TRANSPORTS)
def test_port_forward_carries_an_http_exchange_to_the_pod(
    cri: CriClient,
    make_pod: PodFactory,
    make_container: ContainerFactory,
    images: ImageCatalog,
    transport: Transport,
) -> None:
    # A pod of its own: a port forward reaches whatever listens in the pod, so a pod shared
    # with an earlier test's web server could answer for this one's.
    pod = make_pod()
    start_webserver(cri, make_container, images, pod)
    assert_web_page_through_port_forward(cri, pod.id, transport)


@pytest.mark.feature("streaming.portforward-second-container", shape="multi")
def test_port_forward_reaches_the_port_a_second_container_serves(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    """The pod's port is whichever of its containers listens on it, not only the first's."""
    pod = make_pod()
    make_container(pod, "first")
    start_webserver(cri, make_container, images, pod)
    assert_web_page_through_port_forward(cri, pod.id, Transport.SPDY)


def status_of(url: str, timeout: float) -> int:
    """The HTTP status of a plain GET, with no upgrade."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError) as error:
        raise AssertionError(f"GET {url} got no answer within {timeout:g} s: {error}") from None


def forged(url: str) -> str:
    base, _, _token = url.rpartition("/")
    return f"{base}/cri-conformance-forged-token"


@pytest.mark.feature("streaming.bad-token")
def test_a_token_the_server_never_issued_is_not_found(
    cri: CriClient, shared_container: Container
) -> None:
    urls = {
        "exec": cri.exec_url(
            api.ExecRequest(container_id=shared_container.id, cmd=["true"], stdout=True)
        ),
        "attach": cri.attach_url(api.AttachRequest(container_id=shared_container.id, stdout=True)),
        "portforward": cri.port_forward_url(shared_container.pod.id, [80]),
    }
    statuses = {kind: status_of(forged(url), cri.timeout) for kind, url in urls.items()}
    assert statuses == {"exec": 404, "attach": 404, "portforward": 404}
    with pytest.raises(StreamNotFound):
        streaming.connect_remote_command(
            forged(urls["exec"]),
            Transport.SPDY,
            streaming.StreamOptions(stdout=True),
            handshake_timeout=cri.timeout,
        )


@pytest.mark.feature("streaming.token-single-use")
def test_a_streaming_url_works_once(cri: CriClient, shared_container: Container) -> None:
    request = api.ExecRequest(container_id=shared_container.id, cmd=["echo", "once"], stdout=True)
    url = cri.exec_url(request)
    options = streaming.StreamOptions.of(request)
    connect = {"handshake_timeout": cri.timeout}
    with streaming.connect_remote_command(url, Transport.SPDY, options, **connect) as session:
        assert session.wait().stdout == b"once\n"
    with pytest.raises(StreamNotFound):
        streaming.connect_remote_command(url, Transport.SPDY, options, **connect)
