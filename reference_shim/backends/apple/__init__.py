"""The Apple backend: a VM is an Apple `container` (macOS), driven through its CLI's JSON output.

Apple's CLI has no pods, so a pod sandbox is modelled here (see ``pods``); the one workload
placed inside it gets a VM of its own that carries the pod's hostname, port mappings and
network, and lends the pod its IP. The facts this package relies on, and which of them were
only read from Apple's sources, are in docs/apple-backend.md.

``build`` and ``preflight`` are what the registry (``reference_shim.backends.BACKENDS``) asks
of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reference_shim.backends import Built

if TYPE_CHECKING:
    from reference_shim.config import ShimConfig


def build(config: ShimConfig, instance: str) -> Built:
    from reference_shim.backends.apple.backend import AppleBackend
    from reference_shim.backends.apple.cli import AppleCli
    from reference_shim.backends.apple.streaming import AppleStreaming

    backend = AppleBackend(AppleCli(config.container_cli), config.state_dir / "apple", instance)
    return Built(backend, AppleStreaming(backend))


def preflight(config: ShimConfig) -> str | None:
    """Nothing to ask first: the shim checks Apple's services itself when it starts, and says
    how to start them."""
    return None
