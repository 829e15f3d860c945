"""Labels every backend puts on the objects it makes, so a shim only touches its own."""

from __future__ import annotations

SHIM_LABEL = "io.cri-conformance.shim"
INSTANCE_LABEL = "io.cri-conformance.shim.instance"


def owner_labels(instance: str) -> dict[str, str]:
    """The labels that mark an object as made by the shim instance ``instance``."""
    return {SHIM_LABEL: "reference", INSTANCE_LABEL: instance}
