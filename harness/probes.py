"""Looking inside a running container through ExecSync.

What a runtime reports in status can be right while the container sees something else; these
helpers read what a program in the container would see (files, /proc, namespace links, mount
tables) and, when a command fails, say which command, its exit code, stdout and stderr, so a
failure reads as a sentence. Each takes the container as a ``Container`` record or its id.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Sequence

from cri_api.v1 import api_pb2 as api

from harness.client import CallFailed, CriClient
from harness.expect import answer_or_refusal
from harness.factories import Container
from harness.waiting import DEFAULT_TIMEOUT, wait_until
from linux_capabilities import decode_caps

EXEC_TIMEOUT = 30

Target = Container | str


def target_id(target: Target) -> str:
    return target if isinstance(target, str) else target.id


def exec_in(
    cri: CriClient, target: Target, *cmd: str, timeout: int = EXEC_TIMEOUT
) -> api.ExecSyncResponse:
    return cri.exec_sync(target_id(target), list(cmd), timeout=timeout)


def exec_outcome(
    cri: CriClient, target: Target, *cmd: str, timeout: int = EXEC_TIMEOUT
) -> api.ExecSyncResponse | CallFailed:
    """The response, or the error, for rules that allow either (UNIMPLEMENTED propagates)."""
    return answer_or_refusal(lambda: exec_in(cri, target, *cmd, timeout=timeout))


def describe(cmd: tuple[str, ...], result: api.ExecSyncResponse) -> str:
    return (
        f"ExecSync {list(cmd)} exited {result.exit_code}; "
        f"stdout {result.stdout.decode(errors='replace')!r}, "
        f"stderr {result.stderr.decode(errors='replace')!r}"
    )


def exec_ok(cri: CriClient, target: Target, *cmd: str) -> str:
    """The command's stdout; it must exit 0."""
    result = exec_in(cri, target, *cmd)
    assert result.exit_code == 0, describe(cmd, result) + ", expected exit 0"
    return result.stdout.decode()


def exec_fails(cri: CriClient, target: Target, *cmd: str) -> api.ExecSyncResponse:
    """The command must run and exit non-zero (ExecSync itself succeeds)."""
    result = exec_in(cri, target, *cmd)
    assert result.exit_code != 0, describe(cmd, result) + ", expected a non-zero exit"
    return result


def outputs_in(cri: CriClient, target: Target, *commands: Sequence[str]) -> list[bytes]:
    """The stdout of each command, run one after another by a single ExecSync; each must exit
    0. For checks that read several things: one round trip to the runtime instead of one per
    command."""
    token = secrets.token_hex(8)
    # The separator is printed in two halves, so that the script (which ps shows) lacks it.
    separator = f"printf %s%s cri-conformance- {token}"
    script = "".join(f"{shlex.join(command)} || exit $?; {separator}; " for command in commands)
    result = exec_in(cri, target, "sh", "-c", script)
    outputs = result.stdout.split(f"cri-conformance-{token}".encode())[:-1]
    if result.exit_code != 0:
        failed = commands[min(len(outputs), len(commands) - 1)]
        raise AssertionError(
            describe(tuple(failed), result) + f", expected exit 0 (run with {script!r})"
        )
    assert len(outputs) == len(commands), f"{len(outputs)} outputs of {script!r}: {result}"
    return outputs


def shell_in(cri: CriClient, target: Target, script: str) -> str:
    """Run ``sh -c script`` in the container; it must exit 0. Returns its stdout."""
    return exec_ok(cri, target, "sh", "-c", script)


def exit_code_in(cri: CriClient, target: Target, script: str) -> int:
    """The exit code of ``sh -c script``, for checks where failing is the expected outcome."""
    return exec_in(cri, target, "sh", "-c", script).exit_code


def read_file_in(cri: CriClient, target: Target, path: str) -> str:
    """The content of ``path`` as the container sees it."""
    return exec_ok(cri, target, "cat", path)


def read_bytes_in(cri: CriClient, target: Target, path: str) -> bytes:
    """A file's exact bytes, e.g. the NUL-separated files of /proc."""
    result = exec_in(cri, target, "cat", path)
    assert result.exit_code == 0, describe(("cat", path), result) + ", expected exit 0"
    return result.stdout


def wait_for_file_in(
    cri: CriClient, target: Target, path: str, timeout: float = DEFAULT_TIMEOUT
) -> str:
    """The content of ``path`` once the container's own process has written it."""
    result = wait_until(
        lambda: exec_in(cri, target, "cat", path),
        lambda answer: answer.exit_code == 0,
        what=f"{path} to exist in container {target_id(target)[:13]}",
        timeout=timeout,
    )
    return result.stdout.decode()


# Commands whose output a probe parses, for ``outputs_in`` as well as the probes below.
HOSTNAME = ("hostname",)
PROCESS_ARGS = ("ps", "-o", "args")
IPV4_ADDRESSES = ("ip", "-4", "-o", "addr")
RESOLV_CONF = ("cat", "/etc/resolv.conf")
INIT_ENVIRON_FILE = "/proc/1/environ"
INIT_ENVIRONMENT = ("cat", INIT_ENVIRON_FILE)
INIT_CWD = ("readlink", "/proc/1/cwd")


def hostname_in(cri: CriClient, target: Target) -> str:
    return exec_ok(cri, target, *HOSTNAME).strip()


def process_args_in(cri: CriClient, target: Target) -> list[str]:
    """The command line of every process the container can see."""
    return parse_process_args(exec_ok(cri, target, *PROCESS_ARGS))


# runc's init process, before it execs the container's command. StartContainer may answer
# before that execve (runc start returns once it has released the init), so an exec that follows
# at once can still meet it as PID 1.
OCI_RUNTIME_INIT = ["runc", "init"]


def init_argv_in(cri: CriClient, target: Target) -> list[str]:
    """The argv of PID 1 in the container's PID namespace, once the OCI runtime's init has
    become the container's own process."""
    return wait_until(
        lambda: read_bytes_in(cri, target, "/proc/1/cmdline").decode().split("\0")[:-1],
        lambda argv: argv != OCI_RUNTIME_INIT,
        what=f"PID 1 of container {target_id(target)[:13]} to exec its command",
    )


def init_environment_in(cri: CriClient, target: Target) -> dict[str, str]:
    """The environment of PID 1 (values may hold newlines, hence /proc)."""
    init_argv_in(cri, target)  # the container's process, not the runtime's init
    return parse_environment(read_bytes_in(cri, target, INIT_ENVIRON_FILE))


def sysctl_in(cri: CriClient, target: Target, name: str) -> str:
    """The value of sysctl ``name`` (dotted, as in PodSandboxConfig) inside the container."""
    return read_file_in(cri, target, "/proc/sys/" + name.replace(".", "/")).strip()


def resolv_conf_in(cri: CriClient, target: Target) -> dict[str, list[str]]:
    """/etc/resolv.conf as the container sees it, parsed by ``parse_resolv_conf``."""
    return parse_resolv_conf(exec_ok(cri, target, *RESOLV_CONF))


def ipv4_addresses_in(cri: CriClient, target: Target) -> set[str]:
    """The IPv4 addresses of the container's interfaces, from ``ip -4 -o addr``."""
    return parse_ipv4_addresses(exec_ok(cri, target, *IPV4_ADDRESSES))


def read_proc_status(cri: CriClient, target: Target, pid: str = "self") -> dict[str, str]:
    """``/proc/<pid>/status`` as a dict: ``{"CapEff": "00000000a80425fb", ...}``."""
    fields = {}
    for line in read_file_in(cri, target, f"/proc/{pid}/status").splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def capability_sets(cri: CriClient, target: Target) -> dict[str, frozenset[str]]:
    """The effective, permitted and bounding sets of a process started by ExecSync."""
    status = read_proc_status(cri, target)
    return {name: decode_caps(status[name]) for name in ("CapEff", "CapPrm", "CapBnd")}


KERNEL_ID = "/proc/sys/kernel/random/boot_id"
"""Tells kernels apart: a namespace's inode number is unique only within one kernel. The first
namespaces of every kernel have the same fixed numbers (``net:[4026531840]``), so without it a
container in a VM of its own would seem to be in the host's, or another VM's, namespaces."""


def namespace_link(cri: CriClient, target: Target, kind: str) -> str:
    """What ``/proc/self/ns/<kind>`` points to inside, with the kernel it is in, e.g.
    ``net:[4026531833] of kernel 5c1d...``: equal only for one namespace of one kernel."""
    script = f"readlink /proc/self/ns/{kind}; cat {KERNEL_ID}"
    link, kernel = exec_ok(cri, target, "sh", "-c", script).split()
    return f"{link} of kernel {kernel}"


def listening_ports(cri: CriClient, target: Target) -> set[int]:
    """TCP ports in LISTEN state as ``netstat -ltn`` inside the container reports them."""
    return parse_listening_ports(exec_ok(cri, target, "netstat", "-ltn"))


def mount_options(cri: CriClient, target: Target, path: str) -> list[str]:
    """The per-mount options (``rw``/``ro``, ...) of the visible (last) mount at ``path``."""
    table = read_file_in(cri, target, "/proc/self/mountinfo")
    matches = [line.split() for line in table.splitlines() if line.split()[4] == path]
    assert matches, f"nothing is mounted at {path} inside container {target_id(target)[:13]}"
    return matches[-1][5].split(",")


def mount_points_in(cri: CriClient, target: Target) -> set[str]:
    """Every mount point of /proc/self/mountinfo inside (masking a path mounts over it)."""
    table = read_file_in(cri, target, "/proc/self/mountinfo")
    return {line.split()[4] for line in table.splitlines()}


def read_only_problem(cri: CriClient, target: Target, path: str) -> str | None:
    """Why a file cannot be said read-only at ``path`` inside: its mount is not ``ro``, or
    creating a file there did not fail with EROFS; None when it is read-only."""
    options = mount_options(cri, target, path)
    if "ro" not in options:
        return f"{path} is mounted {','.join(options)} in /proc/self/mountinfo, not ro"
    written = exec_in(cri, target, "touch", f"{path}/new-file")
    if written.exit_code == 0 or b"Read-only file system" not in written.stderr:
        return (
            f"touch {path}/new-file exited {written.exit_code} "
            f"({written.stderr.decode(errors='replace').strip()!r}), expected EROFS"
        )
    return None


def writable_layer_in(cri: CriClient, target: Target) -> str | None:
    """The host folder of the container's writable layer: the ``upperdir`` of its overlay root
    in /proc/self/mountinfo; None when the root is no overlay (a VM's disk, say)."""
    return parse_upperdir(read_file_in(cri, target, "/proc/self/mountinfo"))


def parse_upperdir(mountinfo: str) -> str | None:
    """The upperdir of the last mount at ``/`` if it is an overlay, else None.

    A mountinfo line: id parent major:minor root mountpoint options [optional...] - fstype
    source superoptions; paths escape space, tab, newline and backslash as octal.
    """
    roots = [line.split() for line in mountinfo.splitlines() if line.split()[4:5] == ["/"]]
    if not roots:
        return None
    fields = roots[-1]
    fstype, superoptions = fields[fields.index("-") + 1], fields[-1]
    if fstype != "overlay":
        return None
    for option in superoptions.split(","):
        if option.startswith("upperdir="):
            raw = option.removeprefix("upperdir=")
            return raw.encode().decode("unicode_escape")
    return None


def parse_process_args(text: str) -> list[str]:
    """The command lines in ``ps -o args`` output, without its header."""
    return [line.strip() for line in text.splitlines()[1:] if line.strip()]


def parse_environment(environ: bytes) -> dict[str, str]:
    """A /proc/<pid>/environ file: NUL-ended ``NAME=value`` entries."""
    entries = environ.decode().split("\0")[:-1]
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


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


def parse_listening_ports(text: str) -> set[int]:
    """The local ports of the ``tcp``/``tcp6`` lines of ``netstat -ltn`` output."""
    ports = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0].startswith("tcp"):
            ports.add(int(fields[3].rsplit(":", 1)[1]))
    return ports
