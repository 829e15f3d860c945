"""A workload's privileges in its VM: capabilities, groups, no_new_privs, masked paths.

The agent's launcher (``guest/launch.c``) applies them as runc would: the bounding set cut to
the capabilities held (a root workload then holds exactly those, any other uid none but its
ambient ones), the ambient set, the supplementary groups, no_new_privs. The agent masks and
write-protects paths with mounts. Here: what the ``PRIVS``, ``MASKED`` and ``ROPATHS`` lines
carry for a ``SecuritySpec``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from linux_capabilities import CAPABILITIES
from reference_shim.backends.base import SecuritySpec
from reference_shim.backends.proc_status import own_bounding_set
from reference_shim.errors import InvalidArgument

# containerd's default set for a container that is not privileged (oci.defaultUnixCaps).
DEFAULT_CAPABILITIES = frozenset(
    {
        "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
        "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
    }
)  # fmt: skip


def every_capability() -> frozenset[str]:
    """What ALL and privileged grant: the shim's own bounding set, as containerd grants its
    host's. The VM's kernel would have them all, but a VM runtime promises no more than the
    node's: a pod moved to a runc node would otherwise lose capabilities it relied on."""
    return own_bounding_set() & frozenset(CAPABILITIES)


def held_capabilities(security: SecuritySpec) -> frozenset[str]:
    """The capabilities the workload's bounding set keeps. ``cap_add`` already lacks what is
    dropped (``vm_specs.capabilities``: drops win); dropping ALL keeps only what is added by
    name, and adding ALL starts from every capability."""
    if security.privileged:
        return every_capability() | ambient_capabilities(security)
    for name in (*security.cap_add, *security.cap_drop):
        if name != "ALL" and name not in CAPABILITIES:
            raise InvalidArgument(f"capability {name!r} is not a Linux capability")
    added = frozenset(security.cap_add) - {"ALL"} | ambient_capabilities(security)
    if "ALL" in security.cap_drop:
        return added
    start = every_capability() if "ALL" in security.cap_add else DEFAULT_CAPABILITIES
    return (start | added) - frozenset(security.cap_drop)


def ambient_capabilities(security: SecuritySpec) -> frozenset[str]:
    """api.proto Capability: one added to add_ambient_capabilities "gets added to all sets, i.e
    permitted, inheritable, effective, bounding and ambient sets", so that a uid other than
    root holds it across its exec. It counts as added by name: dropping ALL keeps it, dropping
    it by name drops it ("from all sets")."""
    for name in security.ambient_capabilities:
        if name not in CAPABILITIES:
            raise InvalidArgument(f"ambient capability {name!r} is not a Linux capability")
    return frozenset(security.ambient_capabilities)


def capability_mask(names: frozenset[str]) -> int:
    return sum(1 << CAPABILITIES.index(name) for name in names)


def groups(
    uid: int, gid: int, security: SecuritySpec, table: Callable[[str], list[list[str]]]
) -> tuple[int, ...]:
    """The supplementary groups, as containerd's SupplementalGroupsPolicy gives them: the
    primary gid, under Merge the image's groups (in ``/etc/group``) that list the user's name
    (from ``/etc/passwd``, by uid), and the ones the spec adds; ``table`` reads an image file."""
    name = next((e[0] for e in table("passwd") if len(e) > 2 and e[2] == str(uid)), None)
    found = [gid]
    if name is not None and not security.strict_groups:
        found += [int(e[2]) for e in table("group") if len(e) > 3 and name in e[3].split(",")]
    found += [int(group) for group in security.group_add]
    return tuple(dict.fromkeys(found))


def settings(
    uid: int, gid: int, security: SecuritySpec, table: Callable[[str], list[list[str]]]
) -> dict[str, Any]:
    """The ``Launch`` fields for ``security``. A privileged workload has every capability,
    nothing masked and /sys writable: a VM's own, never the host's."""
    held = held_capabilities(security)
    return {
        "groups": groups(uid, gid, security, table),
        "capabilities": capability_mask(held),
        "ambient_capabilities": capability_mask(ambient_capabilities(security) & held),
        "no_new_privs": security.no_new_privs,
        "privileged": security.privileged,
        "masked_paths": () if security.privileged else tuple(security.masked_paths or ()),
        "readonly_paths": () if security.privileged else tuple(security.readonly_paths or ()),
    }
