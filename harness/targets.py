"""Reaching a target from this process (``bench``, ``diff``): a runtime's socket, or the
reference shim started for the command.

Targets are written as for ``cri-conformance run`` (``NAME=unix:///path`` or
``NAME=embedded:STRATEGY``) and parsed by the same function, so the commands never disagree on
what a target is. An embedded shim is started through ``harness.embedded``, the harness's one
way into the shim, and stopped when the command is done with that target.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import embedded
from harness.client import CriClient
from harness.endpoints import Endpoints, normalize
from harness.matrix.runner import RunError, Target

EMBEDDED = "embedded:"


def check(target: Target) -> None:
    """Refuse an unknown embedded strategy before any target is used."""
    if target.endpoint.startswith(EMBEDDED):
        strategy = target.endpoint.removeprefix(EMBEDDED)
        if strategy not in embedded.STRATEGIES:
            raise RunError(
                f"{target.endpoint}: the reference shim's strategies are "
                f"{', '.join(embedded.STRATEGIES)}"
            )


@contextmanager
def connected(target: Target, pod_image: str, timeout: float) -> Iterator[CriClient]:
    """A connected client of ``target``; an embedded shim lives as long as the context."""
    with tempfile.TemporaryDirectory(prefix="cri-conformance-target-") as shared:
        shared_dir = Path(shared)
        if target.endpoint.startswith(EMBEDDED):
            shim = embedded.EmbeddedShim(target.endpoint.removeprefix(EMBEDDED))
            endpoints = embedded.start(shim, shared_dir, pod_image)
        else:
            endpoint = normalize(target.endpoint)
            endpoints = Endpoints(endpoint, endpoint, f"--target {target.name}")
        client = CriClient(endpoints, timeout)
        try:
            client.connect()
            yield client
        finally:
            client.close()
            embedded.stop(shared_dir)
