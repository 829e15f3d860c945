"""A process's credentials from its ``/proc/<pid>/status``: what the kernel holds for it.

Shared by the backends that can read that file for a workload's process: Docker's on the
host's /proc, microvm's agent in its guest's.
"""

from __future__ import annotations

from reference_shim.backends.base import ProcessUser


def parse_status(text: str) -> ProcessUser:
    """The real uid and gid and the supplementary groups of a ``/proc/<pid>/status``."""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return ProcessUser(
        uid=int(fields["Uid"][0]),
        gid=int(fields["Gid"][0]),
        groups=tuple(int(group) for group in fields.get("Groups", [])),
    )
