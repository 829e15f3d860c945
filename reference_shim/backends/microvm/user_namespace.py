"""A workload's user namespace in its VM (CRI ``userns_options`` mode POD): the ``USERNS`` line.

The agent makes one user namespace per VM with the spec's maps (``guest/userns.c``), idmaps the
container's root disk to it, and the launcher puts the workload, its execs and its sessions in
it, before its cgroup namespace, capabilities, ids and seccomp filter (``guest/launch.c``). The
maps' host side is the guest kernel's ids: a VM has a kernel of its own, so the container's root
is that uid in the guest, never a uid of the host's.

Checked here, on the host: the workload's uid, gid and supplementary groups are ids inside the
namespace, so each must be mapped, else the kernel would refuse the launcher's setuid (runc
fails the same container at start); refused at creation, naming the id and the maps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reference_shim.backends.base import IdMapping, SecuritySpec
from reference_shim.errors import InvalidArgument


def _words(extents: Iterable[IdMapping]) -> str:
    """The agent's form: ``CONTAINER:HOST:LENGTH`` extents, comma-separated."""
    return ",".join(f"{e.container_id}:{e.host_id}:{e.length}" for e in extents)


def _mapped(ident: int, extents: Iterable[IdMapping]) -> bool:
    return any(e.container_id <= ident < e.container_id + e.length for e in extents)


def settings(security: SecuritySpec, uid: int, gid: int, groups: Iterable[int]) -> dict[str, Any]:
    """The ``Launch`` field for ``security``'s maps (none: no field, no user namespace)."""
    if not (security.uid_mappings or security.gid_mappings):
        return {}
    wanted = (("uid", [uid], security.uid_mappings), ("gid", [gid, *groups], security.gid_mappings))
    for kind, ids, extents in wanted:
        for ident in ids:
            if not _mapped(ident, extents):
                raise InvalidArgument(
                    f"the container's {kind} {ident} is not mapped in its user namespace "
                    f"(container:host:length {_words(extents) or 'none'})"
                )
    return {"user_namespace": f"{_words(security.uid_mappings)} {_words(security.gid_mappings)}"}
