"""Labels a backend puts on the objects it makes, so a shim only touches its own.

Every backend uses these, so one shim instance is recognised the same way whichever backend
made an object.
"""

from __future__ import annotations

SHIM_LABEL = "io.cri-conformance.shim"
INSTANCE_LABEL = "io.cri-conformance.shim.instance"
# The pod an object belongs to: on a pod's own network (``PodNetworks``), and on every VM the
# Apple backend makes for a pod. The CRI layer puts the same key on every VM (its bookkeeping).
POD_ID_LABEL = "io.cri-conformance.shim.pod-id"


def owner_labels(instance: str) -> dict[str, str]:
    """The labels that mark an object as made by the shim instance ``instance``."""
    return {SHIM_LABEL: "reference", INSTANCE_LABEL: instance}


def owner_filter(instance: str) -> str:
    """A ``label`` filter (``key=value``) matching the objects of the shim instance only."""
    return f"{INSTANCE_LABEL}={instance}"
