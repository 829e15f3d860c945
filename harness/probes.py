"""What a container sees from inside, read with ExecSync and the busybox in the test images.

Conformance tests compare what the runtime reports with what the container itself observes;
these helpers hide the ``sh -c`` ceremony and fail with the command's own stderr.
"""

from __future__ import annotations

import ipaddress

from harness.client import CriClient
from harness.waiting import wait_until

EXEC_TIMEOUT = 20


class ProbeFailed(AssertionError):
    """A command inside the container exited non-zero."""


def run_in(client: CriClient, container_id: str, script: str, timeout: int = EXEC_TIMEOUT) -> str:
    """stdout of ``sh -c script`` in the container; a non-zero exit fails with its stderr."""
    result = client.exec_sync(container_id, ["sh", "-c", script], timeout=timeout)
    if result.exit_code != 0:
        raise ProbeFailed(
            f"`{script}` exited {result.exit_code} in container {container_id[:13]}: "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout.decode(errors="replace")


def exit_code_of(
    client: CriClient, container_id: str, script: str, timeout: int = EXEC_TIMEOUT
) -> int:
    """The exit code of ``sh -c script``, for checks where failing is the expected outcome."""
    return client.exec_sync(container_id, ["sh", "-c", script], timeout=timeout).exit_code


def read_file(client: CriClient, container_id: str, path: str) -> str:
    return run_in(client, container_id, f"cat '{path}'")


def hostname(client: CriClient, container_id: str) -> str:
    return run_in(client, container_id, "hostname").strip()


def ipv4_addresses(client: CriClient, container_id: str) -> set[str]:
    """The container's IPv4 addresses outside loopback, as its interfaces report them."""
    output = run_in(client, container_id, "ip -o -4 addr show")
    addresses = set()
    for line in output.splitlines():
        fields = line.split()
        if "inet" in fields:
            address = ipaddress.ip_interface(fields[fields.index("inet") + 1]).ip
            if not address.is_loopback:
                addresses.add(str(address))
    return addresses


def process_args(client: CriClient, container_id: str) -> list[str]:
    """The command line of every process the container can see."""
    output = run_in(client, container_id, "ps -o args")
    return [line.strip() for line in output.splitlines()[1:] if line.strip()]


def read_bytes(client: CriClient, container_id: str, path: str) -> bytes:
    """A file's exact bytes (no shell in between), e.g. NUL-separated /proc files."""
    result = client.exec_sync(container_id, ["cat", path], timeout=EXEC_TIMEOUT)
    if result.exit_code != 0:
        raise ProbeFailed(f"cannot read {path}: {result.stderr.decode(errors='replace')}")
    return result.stdout


def init_argv(client: CriClient, container_id: str) -> list[str]:
    """The argv of PID 1 in the container's PID namespace."""
    return read_bytes(client, container_id, "/proc/1/cmdline").decode().split("\0")[:-1]


def init_environment(client: CriClient, container_id: str) -> dict[str, str]:
    """The environment of PID 1 (values may hold newlines, hence /proc)."""
    entries = read_bytes(client, container_id, "/proc/1/environ").decode().split("\0")[:-1]
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


def cgroup_v2(client: CriClient, container_id: str) -> bool:
    """Whether the container sees the unified cgroup v2 hierarchy (else v1's per controller)."""
    return exit_code_of(client, container_id, "test -f /sys/fs/cgroup/cgroup.controllers") == 0


def cgroup_setting(client: CriClient, container_id: str, v2_file: str, v1_file: str) -> str:
    """One cgroup setting as the container sees it, from the file of its cgroup version."""
    name = v2_file if cgroup_v2(client, container_id) else v1_file
    return read_file(client, container_id, f"/sys/fs/cgroup/{name}").strip()


def memory_limit(client: CriClient, container_id: str) -> int | None:
    """The container's memory limit in bytes, None when unlimited."""
    value = cgroup_setting(client, container_id, "memory.max", "memory/memory.limit_in_bytes")
    if value == "max" or int(value) >= 2**62:
        return None
    return int(value)


def resolv_conf(client: CriClient, container_id: str) -> dict[str, list[str]]:
    """/etc/resolv.conf as directive -> values, in file order ("nameserver" may repeat)."""
    directives: dict[str, list[str]] = {}
    for line in read_file(client, container_id, "/etc/resolv.conf").splitlines():
        fields = line.split()
        if not fields or fields[0].startswith(("#", ";")):
            continue
        directives.setdefault(fields[0], []).extend(fields[1:])
    return directives


def wait_for_file(client: CriClient, container_id: str, path: str, timeout: float = 30) -> str:
    """The content of ``path`` once the container's own process has written it."""
    result = wait_until(
        lambda: client.exec_sync(container_id, ["cat", path], timeout=EXEC_TIMEOUT),
        lambda answer: answer.exit_code == 0,
        what=f"{path} to exist in container {container_id[:13]}",
        timeout=timeout,
    )
    return result.stdout.decode(errors="replace")
