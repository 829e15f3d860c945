"""What a container sees from inside, read with one ExecSync per container.

Each probe is a shell command; one script runs every probe the chosen areas need and prints
each one's output between marker lines carrying a token drawn for that exec, so generated
data (an environment value holding anything) cannot fake a section. The script first finds
the container's own process: its command line carries ``# [NAME]`` (``specs.keepalive``),
which the script builds with ``printf`` so that its own command line never holds it. Through
``/proc/PID`` it then reads that process's environment, credentials, capabilities and
namespaces, whatever the pid namespace mode (with pid POD, PID 1 is the pod's, not the
container's). It waits, within the script, for the process to have exec'd (runc's init first
holds its pid).
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from harness.client import CriClient
from harness.diff.observation import Fields, Value
from harness.probes import exec_in, parse_resolv_conf
from linux_capabilities import decode_caps

NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")
# cgroup v1 and v2 files, relative to /sys/fs/cgroup; the ones that exist are read.
CGROUP_FILES = (
    "memory/memory.limit_in_bytes",
    "memory/memory.memsw.limit_in_bytes",
    "cpu/cpu.cfs_quota_us",
    "cpu/cpu.cfs_period_us",
    "cpu/cpu.shares",
    "pids/pids.max",
    "memory.max",
    "memory.swap.max",
    "cpu.max",
    "cpu.weight",
    "pids.max",
)
PROBE_TIMEOUT = 30


@dataclass(frozen=True)
class Probe:
    """A command whose output one or more fields are read from."""

    name: str
    command: str


@dataclass(frozen=True)
class InsideField:
    """One field of ``container.N.inside``: its area, and how it is read from the sections."""

    name: str
    area: str
    probe: str
    read: Callable[[str], Value]


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _nul_list(text: str) -> list[str]:
    return text.split("\0")[:-1]


def _environment(text: str) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in _nul_list(text) if "=" in entry)


def _status(text: str) -> dict[str, str]:
    """``/proc/PID/status`` as key -> value."""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _status_field(*keys: str) -> Callable[[str], Value]:
    def read(text: str) -> Value:
        status = _status(text)
        return {key: status.get(key) for key in keys}

    return read


def _capabilities(text: str) -> Value:
    status = _status(text)
    return {
        key: sorted(decode_caps(status[key])) if key in status else None
        for key in ("CapEff", "CapPrm", "CapBnd")
    }


def _mounts(text: str) -> list[str]:
    """Each mount as ``MOUNTPOINT FSTYPE OPTIONS``: where, what, and its per-mount flags.

    Mount ids, sources and super options name the host's folders and devices, which differ
    from runtime to runtime by nature; a workload sees the rest.
    """
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" in fields:
            fstype = fields[fields.index("-") + 1]
            mounts.append(f"{fields[4]} {fstype} {fields[5]}")
    return mounts


def _key_values(text: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in text.splitlines() if " " in line)


def _exit_zero(text: str) -> bool:
    return text.strip() == "0"


PROBES = (
    Probe("cmdline", 'cat "/proc/$pid/cmdline"'),
    Probe("environ", 'cat "/proc/$pid/environ"'),
    Probe("status", 'cat "/proc/$pid/status"'),
    Probe("id", "id"),
    Probe("cwd", 'readlink "/proc/$pid/cwd"'),
    Probe("hostname", "hostname"),
    Probe("hosts", "cat /etc/hosts"),
    Probe("resolv", "cat /etc/resolv.conf"),
    Probe("mountinfo", 'cat "/proc/$pid/mountinfo"'),
    Probe("rootfs", "touch /.cri-diff-probe 2>/dev/null; echo $?; rm -f /.cri-diff-probe"),
    Probe(
        "cgroup",
        f"for f in {' '.join(CGROUP_FILES)}; do "
        '[ -r "/sys/fs/cgroup/$f" ] && echo "$f $(cat "/sys/fs/cgroup/$f")"; done; true',
    ),
    Probe(
        "ns",
        f'for n in {" ".join(NAMESPACES)}; do echo "$n $(readlink "/proc/$pid/ns/$n")"; done',
    ),
    Probe("pid", 'echo "$pid"'),
)

FIELDS = (
    InsideField("argv", "process", "cmdline", _nul_list),
    InsideField("env", "process", "environ", _environment),
    InsideField("credentials", "process", "status", _status_field("Uid", "Gid", "Groups")),
    InsideField("id", "process", "id", str.strip),
    InsideField("cwd", "process", "cwd", str.strip),
    InsideField("hostname", "dns", "hostname", str.strip),
    InsideField("hosts", "dns", "hosts", _lines),
    InsideField("resolv_conf", "dns", "resolv", parse_resolv_conf),
    InsideField("mounts", "mounts", "mountinfo", _mounts),
    InsideField("rootfs_writable", "mounts", "rootfs", _exit_zero),
    InsideField("cgroup", "resources", "cgroup", _key_values),
    InsideField("capabilities", "security", "status", _capabilities),
    InsideField("no_new_privs", "security", "status", _status_field("NoNewPrivs")),
    InsideField("seccomp", "security", "status", _status_field("Seccomp")),
    InsideField("pid_is_1", "namespaces", "pid", lambda text: text.strip() == "1"),
)
# Read for the namespaces area, but not a field: namespace ids are the kernel's, never equal
# across runtimes. The collector turns them into ``shares`` (``namespace_sharing``).
NAMESPACE_PROBE = "ns"
SHARES = "shares"
INSIDE_AREAS = {**{f.name: f.area for f in FIELDS}, SHARES: "namespaces"}


def probes_for(areas: frozenset[str]) -> list[Probe]:
    wanted = {f.probe for f in FIELDS if f.area in areas}
    if "namespaces" in areas:
        wanted.add(NAMESPACE_PROBE)
    return [probe for probe in PROBES if probe.name in wanted]


def script(container_name: str, probes: list[Probe], token: str) -> str:
    """The shell script of one exec: find the process, then each probe between markers."""
    marker = shlex.quote(container_name)
    find = (
        f"m=$(printf '# \\133%s\\135' {marker}); pid=; tries=0; "
        'while [ -z "$pid" ] && [ "$tries" -lt 100 ]; do '
        "for d in /proc/[0-9]*; do "
        "c=$(tr '\\0' ' ' < \"$d/cmdline\" 2>/dev/null); "
        'case "$c" in *"$m"*) pid=${d#/proc/}; break;; esac; done; '
        '[ -z "$pid" ] && sleep 0.1; tries=$((tries+1)); done; '
        f'[ -n "$pid" ] || {{ echo "{token} no process"; exit 3; }}; '
    )
    sections = "".join(
        f"printf '\\n{token} {probe.name}\\n'; {{ {probe.command}; }} 2>/dev/null; "
        for probe in probes
    )
    return find + sections + f"printf '\\n{token} end\\n'"


def split_sections(output: str, token: str) -> dict[str, str]:
    """Section name -> its output, from the script's stdout."""
    sections: dict[str, str] = {}
    parts = output.split(f"\n{token} ")
    for part in parts[1:]:
        name, _, body = part.partition("\n")
        sections[name] = body
    return sections


def look_inside(
    client: CriClient, container_id: str, container_name: str, areas: frozenset[str]
) -> tuple[Fields, dict[str, str]]:
    """The inside fields of the chosen areas, and the container's namespace links.

    A probe that could not run leaves its fields out; an exec that fails altogether gives one
    field, ``probe_error``, with what went wrong (the gRPC code, or the script's exit).
    """
    probes = probes_for(areas)
    if not probes:
        return {}, {}
    token = f"@@cri-diff-{secrets.token_hex(6)}@@"
    result = exec_in(
        client, container_id, "sh", "-c", script(container_name, probes, token),
        timeout=PROBE_TIMEOUT,
    )  # fmt: skip
    sections = split_sections(result.stdout.decode(errors="replace"), token)
    if "end" not in sections:
        return {"probe_error": f"exit {result.exit_code}"}, {}
    fields: Fields = {}
    for inside in FIELDS:
        if inside.area in areas and inside.probe in sections:
            fields[inside.name] = inside.read(sections[inside.probe])
    return fields, _key_values(sections.get(NAMESPACE_PROBE, ""))


def namespace_sharing(links: list[dict[str, str]]) -> list[dict[str, list[int]]]:
    """For each container: namespace kind -> the other containers (by number) in the same one.

    Only kinds both containers report count; a kind no sibling shares maps to ``[]``.
    """
    shared = []
    for number, mine in enumerate(links):
        shared.append(
            {
                kind: [
                    other
                    for other, theirs in enumerate(links)
                    if other != number and theirs.get(kind) == link
                ]
                for kind, link in sorted(mine.items())
            }
        )
    return shared
