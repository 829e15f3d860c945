"""What a ``VmSpec`` may ask that only some backends honour, refused with the backend's reason.

Whether hugepage limits, cgroup v2 unified resources, ambient capabilities, recursive read-only
mounts or an SELinux relabel can be honoured depends on the engine: a microvm guest has a cgroup
v2 hierarchy of its own that its agent writes, Docker Engine 20.10 has no setting for any of
them, Apple's CLI has none either. So the CRI layer passes them on in the spec, and each backend
refuses the ones it cannot honour, with its own reason, before it makes anything: UNIMPLEMENTED
naming the CRI field, as every refusal of the shim does.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from pathlib import Path

from reference_shim.backends.base import ResourceSpec, VmSpec
from reference_shim.errors import Unimplemented

_SELINUX_ENFORCE = Path("/sys/fs/selinux/enforce")


class Asked(enum.Enum):
    """A field of a ``VmSpec`` that not every backend honours; the value is its CRI field."""

    HUGEPAGE_LIMITS = "linux.resources.hugepage_limits"
    UNIFIED = "linux.resources.unified"
    AMBIENT_CAPABILITIES = "linux.security_context.capabilities.add_ambient_capabilities"
    RECURSIVE_READ_ONLY = "mounts.recursive_read_only"
    SELINUX_RELABEL = "mounts.selinux_relabel"


Reasons = Mapping[Asked, str]  # what a backend cannot honour -> why not


def selinux_enabled() -> bool:
    return _SELINUX_ENFORCE.exists()


def resources_asked(resources: ResourceSpec) -> set[Asked]:
    found = set()
    if resources.hugepage_limits:
        found.add(Asked.HUGEPAGE_LIMITS)
    if resources.unified:
        found.add(Asked.UNIFIED)
    return found


def asked(spec: VmSpec) -> set[Asked]:
    """What ``spec`` asks of the fields in ``Asked``. A relabel on a host without SELinux is not
    asked for anything: no file there carries a label to change."""
    found = resources_asked(spec.resources)
    if spec.security.ambient_capabilities:
        found.add(Asked.AMBIENT_CAPABILITIES)
    if any(mount.recursive_readonly for mount in spec.mounts):
        found.add(Asked.RECURSIVE_READ_ONLY)
    if any(mount.selinux_relabel for mount in spec.mounts) and selinux_enabled():
        found.add(Asked.SELINUX_RELABEL)
    return found


def refuse(found: set[Asked], reasons: Reasons) -> None:
    """UNIMPLEMENTED for the first field of ``found`` (in ``Asked``'s order) the backend cannot
    honour, naming the field and the backend's reason."""
    for field in Asked:
        if field in found and field in reasons:
            raise Unimplemented(f"{field.value} is not supported: {reasons[field]}")
