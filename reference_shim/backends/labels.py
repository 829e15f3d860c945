"""Labels a backend puts on the objects it makes, so a shim only touches its own.

The values are the Docker backend's (which keeps its own copy for now), so one shim instance
is recognised the same way whichever backend made an object.
"""

from __future__ import annotations

SHIM_LABEL = "io.cri-conformance.shim"
INSTANCE_LABEL = "io.cri-conformance.shim.instance"


def owner_labels(instance: str) -> dict[str, str]:
    """The labels that mark an object as made by the shim instance ``instance``."""
    return {SHIM_LABEL: "reference", INSTANCE_LABEL: instance}
