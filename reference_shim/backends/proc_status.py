"""A process's credentials from its ``/proc/<pid>/status``: what the kernel holds for it.

Shared by the backends that can read that file for a workload's process: Docker's on the
host's /proc, microvm's agent in its guest's; and the shim's own bounding set, which is what
``ALL`` capabilities and privileged mode grant (containerd grants its host's bounding set).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from linux_capabilities import decode_caps
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


@cache
def own_bounding_set() -> frozenset[str]:
    """The capabilities in this process's bounding set (``CapBnd``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return decode_caps(line.split(":", 1)[1].strip())
    return frozenset()
