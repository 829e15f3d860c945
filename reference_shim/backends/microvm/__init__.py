"""The microvm backend: a VM is a QEMU microVM with a kernel of its own (Linux; TCG or KVM).

``build`` and ``preflight`` are what the registry (``reference_shim.backends.BACKENDS``) asks
of it. What it runs, the agent's wire format, what it honours and what it refuses yet, and the
figures measured on this project's machines are in README.md, next to this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reference_shim.backends import Built

if TYPE_CHECKING:
    from reference_shim.config import ShimConfig


def build(config: ShimConfig, instance: str) -> Built:
    from reference_shim.backends.microvm.backend import MicrovmBackend
    from reference_shim.backends.microvm.streaming import MicrovmStreaming

    backend = MicrovmBackend(
        config.state_dir / "microvm", instance, shared_pod_vms=config.strategy == "shared-vm"
    )
    return Built(backend, MicrovmStreaming(backend))


def preflight(config: ShimConfig) -> str | None:
    """Whether QEMU and the guest kernel are installed, so a shim that could not boot a VM is
    never started."""
    from reference_shim.backends.microvm.backend import MicrovmBackend

    ok, why = MicrovmBackend(config.state_dir / "microvm", "preflight").ready()
    return None if ok else why
