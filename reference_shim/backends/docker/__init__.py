"""The Docker backend: a VM is a Docker container on the shim's own Docker network.

``build`` and ``preflight`` are what the registry (``reference_shim.backends.BACKENDS``) asks
of it; Docker's SDK is imported only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reference_shim.backends import Built
from reference_shim.backends.docker.host import START_HINT, docker_host

if TYPE_CHECKING:
    from reference_shim.config import ShimConfig

PING_TIMEOUT_S = 5


def build(config: ShimConfig, instance: str) -> Built:
    from reference_shim.backends.docker.backend import DockerBackend
    from reference_shim.backends.docker.streaming import DockerStreaming

    host = docker_host(config.docker_host)
    return Built(DockerBackend(host, instance), DockerStreaming(host))


def preflight(config: ShimConfig) -> str | None:
    """Whether a Docker Engine answers, so a shim that could not serve is never started."""
    return engine_problem(docker_host(config.docker_host))


def engine_problem(host: str) -> str | None:
    """Why no Docker Engine answers at ``host``, in one line saying how to start one."""
    import docker

    try:
        docker.APIClient(base_url=host, version="auto", timeout=PING_TIMEOUT_S).ping()
    except Exception as error:
        return f"no Docker Engine answers at {host} ({type(error).__name__}); {START_HINT}"
    return None
