"""The shim's Docker API clients, with one connection pool each.

docker-py's unix-socket adapter keeps a connection pool per request URL, for the 25 URLs used
last, and closes the pool it evicts even while another thread is taking a connection from it:
that request fails with "'NoneType' object has no attribute 'qsize'". Every exec has URLs of
its own, so a few hundred concurrent execs evict the pool they all share
(``/containers/<id>/exec``) under each other's feet. Here every URL of a client uses one pool,
which nothing evicts: it keeps up to ``max_pool_size`` idle connections and opens more while
more requests run at once, as a pool per host does.

A unix-socket client also ignores the environment (``trust_env``): by default requests looks
up proxy variables and ~/.netrc on every request, which cost a fifth of the client's CPU time
per Engine call here, and neither applies to a socket on this host (the adapter ignores
proxies). A TCP host keeps them: it may sit behind a proxy, or need ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

from typing import Any

import docker
from docker.transport.unixconn import UnixHTTPAdapter

_POOL_KEY = "http+docker://localhost"


class OnePoolUnixAdapter(UnixHTTPAdapter):
    def get_connection(self, url: str | bytes, proxies: Any = None) -> Any:
        return super().get_connection(_POOL_KEY, proxies)


def engine_client(base_url: str, timeout: int) -> Any:
    """A ``docker.APIClient`` for ``base_url``; on a unix socket, with one connection pool."""
    api: Any = docker.APIClient(base_url=base_url, version="auto", timeout=timeout)
    per_url = api.get_adapter(api.base_url)
    if isinstance(per_url, UnixHTTPAdapter):
        one_pool = OnePoolUnixAdapter(
            f"http+unix://{per_url.socket_path}",
            per_url.timeout,
            max_pool_size=per_url.max_pool_size,
        )
        api.mount("http+docker://", one_pool)
        per_url.close()
        api.trust_env = False
    return api
