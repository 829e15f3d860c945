"""Checks made from inside a running container, through ExecSync.

What a runtime reports in status can be right while the container sees something else; these
helpers read what the container sees, and fail naming the command, its exit code and stderr.
"""

from __future__ import annotations

from harness.client import CriClient
from harness.waiting import DEFAULT_TIMEOUT, wait_until

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


def shell_in(cri: CriClient, container_id: str, script: str) -> str:
    """Run ``sh -c script`` in the container; it must exit 0. Returns its stdout."""
    return exec_ok(cri, container_id, ["sh", "-c", script])


def exit_code_in(cri: CriClient, container_id: str, script: str) -> int:
    """The exit code of ``sh -c script``, for checks where failing is the expected outcome."""
    return cri.exec_sync(container_id, ["sh", "-c", script], timeout=EXEC_TIMEOUT).exit_code


def read_bytes_in(cri: CriClient, container_id: str, path: str) -> bytes:
    """A file's exact bytes, e.g. the NUL-separated files of /proc."""
    result = cri.exec_sync(container_id, ["cat", path], timeout=EXEC_TIMEOUT)
    if result.exit_code != 0:
        raise AssertionError(
            f"cannot read {path} in container {container_id[:13]}: {result.stderr!r}"
        )
    return result.stdout


def wait_for_file_in(
    cri: CriClient, container_id: str, path: str, timeout: float = DEFAULT_TIMEOUT
) -> str:
    """The content of ``path`` once the container's own process has written it."""
    result = wait_until(
        lambda: cri.exec_sync(container_id, ["cat", path], timeout=EXEC_TIMEOUT),
        lambda answer: answer.exit_code == 0,
        what=f"{path} to exist in container {container_id[:13]}",
        timeout=timeout,
    )
    return result.stdout.decode()


def hostname_in(cri: CriClient, container_id: str) -> str:
    return exec_ok(cri, container_id, ["hostname"]).strip()


def process_args_in(cri: CriClient, container_id: str) -> list[str]:
    """The command line of every process the container can see."""
    lines = exec_ok(cri, container_id, ["ps", "-o", "args"]).splitlines()[1:]
    return [line.strip() for line in lines if line.strip()]


def init_argv_in(cri: CriClient, container_id: str) -> list[str]:
    """The argv of PID 1 in the container's PID namespace."""
    return read_bytes_in(cri, container_id, "/proc/1/cmdline").decode().split("\0")[:-1]


def init_environment_in(cri: CriClient, container_id: str) -> dict[str, str]:
    """The environment of PID 1 (values may hold newlines, hence /proc)."""
    entries = read_bytes_in(cri, container_id, "/proc/1/environ").decode().split("\0")[:-1]
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


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
