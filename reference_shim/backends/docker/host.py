"""Which Docker Engine to talk to, and how to say that none answers."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_SOCKET = Path("/var/tmp/cri-conformance/docker/docker.sock")
DEFAULT_HOST = "unix:///var/run/docker.sock"
START_HINT = "start it with `scripts/services start` (or set DOCKER_HOST)"


def docker_host(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``explicit``, else DOCKER_HOST, else the project's Docker socket if it exists, else
    Docker's own default."""
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get("DOCKER_HOST"):
        return env["DOCKER_HOST"]
    if PROJECT_SOCKET.exists():
        return "unix://" + str(PROJECT_SOCKET)
    return DEFAULT_HOST
