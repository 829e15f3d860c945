"""The Docker API clients' single connection pool, and the docker-py behaviour it avoids."""

from __future__ import annotations

import pytest
from docker.api.client import APIClient
from docker.transport.unixconn import UnixHTTPAdapter

from reference_shim.backends.docker.engine_client import OnePoolUnixAdapter, engine_client

SOCKET = "http+unix:///nonexistent/docker.sock"  # no connection is opened here
URL = "http+docker://localhost/v1.41"


def test_docker_pys_adapter_closes_a_shared_pool_after_25_other_urls() -> None:
    """Why: the pool every exec of a container uses is closed while others still take from it.
    Should docker-py stop doing this, the workaround can go."""
    adapter = UnixHTTPAdapter(SOCKET, 5)
    shared = adapter.get_connection(f"{URL}/containers/c1/exec")
    for exec_id in range(30):
        adapter.get_connection(f"{URL}/exec/{exec_id}/json")
    assert shared.pool is None


def test_every_url_uses_one_pool_that_is_never_closed() -> None:
    adapter = OnePoolUnixAdapter(SOCKET, 5)
    shared = adapter.get_connection(f"{URL}/containers/c1/exec")
    for exec_id in range(100):
        assert adapter.get_connection(f"{URL}/exec/{exec_id}/json") is shared
    assert shared.pool is not None


def test_a_unix_socket_client_ignores_proxy_and_netrc_settings_a_tcp_one_keeps_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(APIClient, "_retrieve_server_version", lambda self: "1.41")
    assert engine_client("unix:///nonexistent/docker.sock", 5).trust_env is False
    assert engine_client("tcp://127.0.0.1:2375", 5).trust_env is True
