"""VM backends: where pod sandboxes and containers actually run.

``BACKENDS`` is the one list of backend names. Each names the package (a folder here) that holds
the backend: its ``VmBackend``, its ``StreamingBackend``, and the ``build`` and ``preflight``
functions of ``BackendPackage``. A package is imported only once its backend is chosen, so one
backend's libraries (Docker's SDK) are never needed to run another. Adding a backend is a folder
and a line here: docs/adding-a-backend.md walks through it.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from reference_shim.backends.base import VmBackend
    from reference_shim.config import ShimConfig
    from reference_shim.streaming.backend import StreamingBackend

BACKENDS: dict[str, str] = {
    "docker": "reference_shim.backends.docker",
    "apple": "reference_shim.backends.apple",
    "microvm": "reference_shim.backends.microvm",
}
AUTO = "auto"  # the command lines' default: ``resolve_backend`` picks one for the host


@dataclass(frozen=True)
class Built:
    """A backend made for one shim: its VMs, and what its streaming server runs through."""

    vms: VmBackend
    streaming: StreamingBackend


class BackendPackage(Protocol):
    """What the package of each backend provides, as module-level functions."""

    def build(self, config: ShimConfig, instance: str) -> Built:
        """The backend for a shim with ``config``; ``instance`` labels what it makes."""

    def preflight(self, config: ShimConfig) -> str | None:
        """Why a shim with ``config`` could not start on this backend (its service does not
        answer, say what to do), or None. Asked before a shim process is started for it."""


def backend_package(name: str) -> BackendPackage:
    try:
        module = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}") from None
    return cast("BackendPackage", importlib.import_module(module))


def resolve_backend(name: str, platform: str | None = None, cli: str = "container") -> str:
    """``auto`` means Apple's CLI on a Mac that has it, Docker everywhere else."""
    if name != AUTO:
        return name
    if (platform or sys.platform) == "darwin" and shutil.which(cli):
        return "apple"
    return "docker"
