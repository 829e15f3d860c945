"""The areas a diff can cover, and which area each observed field belongs to.

``--area`` picks some (comma-separated, shell globs). An area decides two things: what the
generated specs vary (mounts only when ``mounts`` is chosen, and so on) and which probes run
inside the containers. Whether each step was accepted is observed whatever is chosen: nothing
else can be compared without it.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from harness.diff.observation import signature

AREAS = {
    "lifecycle": "whether each step is accepted (or its gRPC code), states and exit codes, "
    "the status after StopContainer",
    "status": "PodSandboxStatus and ContainerStatus, field by field",
    "process": "argv, environment, credentials (uid, gid, groups; `id`), working directory",
    "dns": "hostname, /etc/hosts, /etc/resolv.conf",
    "mounts": "host-path mounts in the spec; the mount table (mountinfo) and a writable rootfs",
    "resources": "CPU and memory limits in the spec; the cgroup limits seen inside",
    "security": "a security context in the spec; capabilities, no_new_privs, seccomp mode",
    "namespaces": "pid namespace modes in the spec; namespaces shared with sibling containers",
    "logs": "a fixed output before the keepalive loop; the CRI log records of each stream",
}
ALL = frozenset(AREAS)
ALWAYS = "lifecycle"


class AreaError(Exception):
    """An --area pattern that names no area."""

    exit_code = 2


def choose(patterns: str | None) -> frozenset[str]:
    """The areas the comma-separated globs name, and ``lifecycle`` (always observed); all of
    them when none is given."""
    given = [part.strip() for part in (patterns or "").split(",") if part.strip()]
    if not given:
        return ALL
    chosen = {ALWAYS}
    for pattern in given:
        matched = {name for name in AREAS if fnmatchcase(name, pattern)}
        if not matched:
            raise AreaError(f"--area {pattern!r} names no area; the areas are {', '.join(AREAS)}")
        chosen |= matched
    return frozenset(chosen)


def area_of(path: str, inside_areas: dict[str, str]) -> str:
    """The area of a field; ``inside_areas`` maps each inside field name to its area."""
    parts = signature(path).split(".")
    if parts[0] == "steps" or parts[2:3] in (["steps"], ["stopped"]):
        return ALWAYS
    if parts[0] == "pod" or parts[2] == "status":
        return "status"
    if parts[2] == "logs":
        return "logs"
    return inside_areas.get(parts[3], "")  # probe_error: of no one area
