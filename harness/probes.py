"""Checks made from inside a running container, through ExecSync.

What a runtime reports in status can be right while the container sees something else; these
helpers read what the container sees, and fail naming the command, its exit code and stderr.
"""

from __future__ import annotations

from harness.client import CriClient

EXEC_TIMEOUT = 10


def exec_ok(cri: CriClient, container_id: str, cmd: list[str]) -> str:
    """Run ``cmd`` in the container; it must exit 0. Returns its stdout as text."""
    result = cri.exec_sync(container_id, cmd, timeout=EXEC_TIMEOUT)
    if result.exit_code != 0:
        raise AssertionError(
            f"ExecSync {cmd} in container {container_id[:13]} exited {result.exit_code}: "
            f"stdout {result.stdout!r}, stderr {result.stderr!r}"
        )
    return result.stdout.decode()


def read_file_in(cri: CriClient, container_id: str, path: str) -> str:
    """The content of ``path`` as the container sees it."""
    return exec_ok(cri, container_id, ["cat", path])


def sysctl_in(cri: CriClient, container_id: str, name: str) -> str:
    """The value of sysctl ``name`` (dotted, as in PodSandboxConfig) inside the container."""
    return read_file_in(cri, container_id, "/proc/sys/" + name.replace(".", "/")).strip()


def resolv_conf_in(cri: CriClient, container_id: str) -> dict[str, list[str]]:
    """/etc/resolv.conf as the container sees it, parsed by ``parse_resolv_conf``."""
    return parse_resolv_conf(read_file_in(cri, container_id, "/etc/resolv.conf"))


def ipv4_addresses_in(cri: CriClient, container_id: str) -> set[str]:
    """The IPv4 addresses of the container's interfaces, from ``ip -4 -o addr``."""
    return parse_ipv4_addresses(exec_ok(cri, container_id, ["ip", "-4", "-o", "addr"]))


def parse_resolv_conf(text: str) -> dict[str, list[str]]:
    """Keyword -> values, repeated keywords (``nameserver``) collected in order."""
    entries: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if words and not words[0].startswith(("#", ";")):
            entries.setdefault(words[0], []).extend(words[1:])
    return entries


def parse_ipv4_addresses(text: str) -> set[str]:
    """The addresses after ``inet`` in ``ip -4 -o addr`` output, without prefix lengths."""
    addresses = set()
    for line in text.splitlines():
        words = line.split()
        if "inet" in words[:-1]:
            addresses.add(words[words.index("inet") + 1].split("/")[0])
    return addresses
