"""The shim's own dependencies, which the distribution installs with its ``shim`` extra.

The harness alone (pointed at a runtime's socket) needs neither; the embedded default and
``cri-conformance shim`` do, and say so in one line rather than with an ImportError.
"""

from __future__ import annotations

from importlib.util import find_spec

MODULES = {"docker": "docker", "docker_image": "docker-image-py"}  # module -> distribution
INSTALL = "pip install 'cri-conformance[shim]'"


def missing() -> list[str]:
    """The distributions of the extra that are not installed."""
    return [dist for module, dist in MODULES.items() if find_spec(module) is None]


def problem() -> str | None:
    """What to install, or None when the extra is there."""
    absent = missing()
    if not absent:
        return None
    return f"the reference shim needs {', '.join(absent)}: {INSTALL}"
