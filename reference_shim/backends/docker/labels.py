"""The labels that mark Docker objects as one shim instance's own."""

from __future__ import annotations

SHIM_LABEL = "io.cri-conformance.shim"
INSTANCE_LABEL = "io.cri-conformance.shim.instance"
POD_NETWORK_LABEL = "io.cri-conformance.shim.pod-network"


def instance_labels(instance: str) -> dict[str, str]:
    return {SHIM_LABEL: "reference", INSTANCE_LABEL: instance}


def instance_filter(instance: str) -> str:
    """A Docker ``label`` filter that matches this instance's objects only."""
    return f"{INSTANCE_LABEL}={instance}"
