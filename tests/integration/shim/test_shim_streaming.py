"""The launched shim's Exec, Attach and PortForward: real URLs, served over both protocols."""

from __future__ import annotations

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from docker_shim import Launch, connect, run_container, shell

from harness import streaming
from harness.expect import refused
from harness.streaming import Transport


def test_exec_and_port_forward_through_the_launched_shim(
    launch: Launch, pod_config: cri.PodSandboxConfig
) -> None:
    client = connect(launch())
    pod_id, container_id = run_container(client, pod_config, shell("httpd -f -p 8080 -h /etc"))
    for transport in Transport:
        result = streaming.run_exec(
            client, container_id, ["sh", "-c", "hostname; exit 4"], transport
        )
        assert (result.stdout, result.exit_code) == (b"webhost\n", 4)

    for transport in (Transport.SPDY, Transport.WEBSOCKET):
        with streaming.open_port_forward(client, pod_id, [8080], transport) as forward:
            connection = forward.connect(8080)
            connection.send(b"GET /hostname HTTP/1.0\r\n\r\n")
            assert connection.read_until_closed().endswith(b"\r\n\r\nwebhost\n")


def test_requests_no_stream_could_serve_are_refused(
    launch: Launch, pod_config: cri.PodSandboxConfig
) -> None:
    client = connect(launch())
    _, container_id = run_container(client, pod_config, shell("sleep 300"))
    with refused(grpc.StatusCode.INVALID_ARGUMENT) as refusal:
        client.exec_url(
            cri.ExecRequest(container_id=container_id, cmd=["sh"], tty=True, stderr=True)
        )
    assert refusal.error is not None
    assert "tty and stderr" in refusal.error.details
    with refused(grpc.StatusCode.INVALID_ARGUMENT):
        client.exec_url(cri.ExecRequest(container_id=container_id, cmd=["true"]))
    with refused(grpc.StatusCode.INVALID_ARGUMENT):
        client.exec_url(cri.ExecRequest(container_id=container_id, stdout=True))
    with refused(grpc.StatusCode.NOT_FOUND):
        client.exec_url(
            cri.ExecRequest(container_id="no-such-container", cmd=["true"], stdout=True)
        )
    url = client.exec_url(cri.ExecRequest(container_id=container_id, cmd=["true"], stdout=True))
    assert url.startswith("http://127.0.0.1:")
    with pytest.raises(streaming.StreamNotFound):
        streaming.connect_remote_command(url + "x", Transport.SPDY, streaming.StreamOptions())
