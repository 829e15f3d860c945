"""The launched shim's Exec and PortForward URLs, driven by the ``kubernetes`` client's own
WebSocket streaming code (``tests/kubernetes_stream.py``) rather than the harness's."""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as cri
from docker_shim import Launch, connect, run_container, shell
from kubernetes_stream import forward, run

V4 = "v4.channel.k8s.io"


@pytest.mark.parametrize("protocol", [V4, None], ids=["v4", "client-default-v5"])
def test_exec_url_from_the_exec_rpc(
    launch: Launch, pod_config: cri.PodSandboxConfig, protocol: str | None
) -> None:
    client = connect(launch())
    pod_id, container_id = run_container(client, pod_config, shell("httpd -f -p 8080 -h /etc"))
    script = "read line; echo out:$line; hostname >&2; exit 3"
    request = cri.ExecRequest(
        container_id=container_id, cmd=["sh", "-c", script], stdin=True, stdout=True, stderr=True
    )
    finished = run(client.exec_url(request), b"hello\n", protocol)
    assert (finished.stdout, finished.stderr, finished.returncode) == (
        b"out:hello\n",
        b"webhost\n",
        3,
    )
    received = forward(
        client.port_forward_url(pod_id, [8080]), 8080, b"GET /hostname HTTP/1.0\r\n\r\n"
    )
    assert received.endswith(b"\r\n\r\nwebhost\n")
