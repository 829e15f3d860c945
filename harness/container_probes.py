"""Looking inside a running container through ExecSync.

Tests check what a runtime did by looking where a program in the container would look:
``/proc/self/status``, namespace links, mount tables, cgroup files. These helpers run the
command, check that it worked, and when it did not, say which command failed and what it
printed, so a failure reads as a sentence.
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as api

from harness.capabilities import decode_caps
from harness.client import CallFailed, CriClient
from harness.factories import Container

EXEC_TIMEOUT = 30


def exec_in(
    cri: CriClient, container: Container, *cmd: str, timeout: int = EXEC_TIMEOUT
) -> api.ExecSyncResponse:
    return cri.exec_sync(container.id, list(cmd), timeout=timeout)


def exec_outcome(
    cri: CriClient, container: Container, *cmd: str, timeout: int = EXEC_TIMEOUT
) -> api.ExecSyncResponse | CallFailed:
    """The response, or the error, for rules that allow either."""
    try:
        return exec_in(cri, container, *cmd, timeout=timeout)
    except CallFailed as error:
        return error


def describe(cmd: tuple[str, ...], result: api.ExecSyncResponse) -> str:
    return (
        f"ExecSync {list(cmd)} exited {result.exit_code}; "
        f"stdout {result.stdout.decode(errors='replace')!r}, "
        f"stderr {result.stderr.decode(errors='replace')!r}"
    )


def exec_ok(cri: CriClient, container: Container, *cmd: str) -> str:
    """The command's stdout; it must exit 0."""
    result = exec_in(cri, container, *cmd)
    assert result.exit_code == 0, describe(cmd, result) + ", expected exit 0"
    return result.stdout.decode()


def exec_fails(cri: CriClient, container: Container, *cmd: str) -> api.ExecSyncResponse:
    """The command must run and exit non-zero (ExecSync itself succeeds)."""
    result = exec_in(cri, container, *cmd)
    assert result.exit_code != 0, describe(cmd, result) + ", expected a non-zero exit"
    return result


def shell_ok(cri: CriClient, container: Container, script: str) -> str:
    return exec_ok(cri, container, "sh", "-c", script)


def read_proc_status(cri: CriClient, container: Container, pid: str = "self") -> dict[str, str]:
    """``/proc/<pid>/status`` as a dict: ``{"CapEff": "00000000a80425fb", ...}``."""
    text = exec_ok(cri, container, "cat", f"/proc/{pid}/status")
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def capability_sets(cri: CriClient, container: Container) -> dict[str, frozenset[str]]:
    """The effective, permitted and bounding sets of a process started by ExecSync."""
    status = read_proc_status(cri, container)
    return {name: decode_caps(status[name]) for name in ("CapEff", "CapPrm", "CapBnd")}


def namespace_link(cri: CriClient, container: Container, kind: str) -> str:
    """What ``/proc/self/ns/<kind>`` points to inside, e.g. ``net:[4026531833]``."""
    return exec_ok(cri, container, "readlink", f"/proc/self/ns/{kind}").strip()


def mount_options(cri: CriClient, container: Container, target: str) -> list[str]:
    """The per-mount options (``rw``/``ro``, ...) of the visible (last) mount at ``target``."""
    table = exec_ok(cri, container, "cat", "/proc/self/mountinfo")
    matches = [line.split() for line in table.splitlines() if line.split()[4] == target]
    assert matches, f"nothing is mounted at {target} inside container {container.id[:13]}"
    return matches[-1][5].split(",")
