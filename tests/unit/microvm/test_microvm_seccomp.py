"""The microvm backend's seccomp: profiles resolved for a container (``seccomp_profile``), and
the BPF program libseccomp compiles (``seccomp_filter``), checked by the host's own kernel: a
child process installs the program and tries the syscalls."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reference_shim.backends.base import SecuritySpec
from reference_shim.backends.microvm import seccomp_filter
from reference_shim.backends.microvm.launch import Launch
from reference_shim.backends.microvm.seccomp_profile import (
    GUEST_ARCHITECTURES,
    Action,
    Condition,
    parse,
)
from reference_shim.backends.microvm.static_build import static_program
from reference_shim.errors import FailedPrecondition, InvalidArgument, Unimplemented

DEFAULT_CAPS = frozenset({"CHOWN", "SETUID", "SETGID"})
RELEASE = (6, 1, 0)


def _profile(*rules: dict[str, Any], **fields: Any) -> str:
    return json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(rules), **fields})


def _names(text: str, capabilities: frozenset[str] = DEFAULT_CAPS) -> set[str]:
    return {name for rule in parse(text, capabilities, RELEASE).rules for name in rule.names}


def test_a_rule_applies_as_docker_decides_from_capabilities_arches_and_kernel() -> None:
    text = _profile(
        {"names": ["bpf"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["acct"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_CHOWN"]}},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["amd64"]}},
        {"names": ["set_tls"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["arm64"]}},
        {"names": ["new"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "6.2"}},
        {"names": ["old"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "4.8"}},
        {"names": ["gone"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "5.0"}},
        {"name": "chmod", "action": "SCMP_ACT_ERRNO"},
    )
    assert _names(text) == {"arch_prctl", "old", "chmod"}
    assert _names(text, (DEFAULT_CAPS | {"SYS_ADMIN"}) - {"CHOWN"}) == {
        "bpf", "acct", "arch_prctl", "old", "chmod",
    }  # fmt: skip


def test_errno_defaults_to_eperm_and_flags_and_arguments_are_kept() -> None:
    text = _profile(
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=38,
        flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    )  # fmt: skip
    profile = parse(text, DEFAULT_CAPS, RELEASE)
    assert profile.default == Action("SCMP_ACT_ERRNO", 38)
    assert [rule.action for rule in profile.rules[:2]] == [
        Action("SCMP_ACT_ERRNO", 1), Action("SCMP_ACT_ERRNO", 38),
    ]  # fmt: skip
    assert profile.rules[2].conditions == (Condition(0, "SCMP_CMP_EQ", 8),)
    assert profile.flags == 2 | 4


def test_the_architectures_are_the_x86_ones_the_profile_names_or_all_three() -> None:
    arch_map = [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    ]
    assert parse(_profile(archMap=arch_map), DEFAULT_CAPS, RELEASE).architectures == (
        "SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
    )  # fmt: skip
    oci = _profile(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"])
    assert parse(oci, DEFAULT_CAPS, RELEASE).architectures == ("SCMP_ARCH_X86_64",)
    assert parse(_profile(), DEFAULT_CAPS, RELEASE).architectures == GUEST_ARCHITECTURES


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"syscalls": []}', "no defaultAction"),
        (_profile(defaultAction="SCMP_ACT_MAYBE"), "not a seccomp action"),
        (_profile({"names": ["chmod"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}), "errnoRet"),
        (_profile({"names": [], "action": "SCMP_ACT_ERRNO"}), "names no syscall"),
        (_profile({"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}), "both"),
        (_profile({"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
                   "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}), "index 7"),
        (_profile({"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
                   "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}), "condition"),
        (_profile({"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
                   "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}), "64-bit"),
        (_profile({"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}), "0 to"),
        (_profile(defaultErrnoRet=1), "errnoRet is not supported for SCMP_ACT_ALLOW"),
        (_profile(flags=["SECCOMP_FILTER_FLAG_NEW_LISTENER"]), "flag"),
        (_profile(architectures=["x86_64"]), "not an architecture"),
        (_profile(syscalls=["chmod"]), "not an object"),
    ],
)  # fmt: skip
def test_a_profile_that_is_not_one_is_an_invalid_argument(text: str, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        parse(text, DEFAULT_CAPS, RELEASE)


def test_a_notify_action_needs_an_agent_on_the_node_and_is_unimplemented() -> None:
    with pytest.raises(Unimplemented, match="SCMP_ACT_NOTIFY"):
        parse(_profile({"names": ["chmod"], "action": "SCMP_ACT_NOTIFY"}), DEFAULT_CAPS, RELEASE)
    with pytest.raises(Unimplemented, match="listenerPath"):
        parse(_profile(listenerPath="/run/agent.sock"), DEFAULT_CAPS, RELEASE)


# Run in a child: install the program (no_new_privs first, as an unprivileged launcher must),
# then try each syscall; print the errno each gave (0: it worked).
_PROBE = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
program = open(sys.argv[1], "rb").read()
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
prog = Prog(len(program) // 8, program)
assert libc.syscall(317, 1, 0, ctypes.byref(prog)) == 0, ctypes.get_errno()  # seccomp()
def errno(call, *args):
    return 0 if call(*args) >= 0 else ctypes.get_errno()
path = sys.argv[2].encode()
print(errno(libc.chmod, path, 0o600), errno(libc.chown, path, os.getuid(), os.getgid()),
      errno(libc.personality, 1), errno(libc.personality, 2), errno(libc.personality, 0xFFFFFFFF),
      open("/proc/self/status").read().split("Seccomp:")[1].split()[0])
"""


def _probe(program: bytes, tmp_path: Path) -> list[str]:
    (tmp_path / "program.bpf").write_bytes(program)
    (tmp_path / "file").write_text("")
    ran = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "program.bpf"), str(tmp_path / "file")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return ran.stdout.split()


def test_the_compiled_program_denies_exactly_what_the_profile_denies(tmp_path: Path) -> None:
    text = _profile(
        {"names": ["chmod", "fchmodat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO"},
        # two conditions on one argument: either denies (a rule each, as runc adds them)
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22, "args": [
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
        ]},
    )  # fmt: skip
    program = seccomp_filter.compile_bpf(parse(text, DEFAULT_CAPS, RELEASE))
    assert len(program) % 8 == 0
    # chmod EPERM, chown works, personality 1 and 2 EINVAL, the query works; Seccomp: 2
    assert _probe(program, tmp_path) == ["1", "0", "22", "22", "0", "2"]


def test_the_runtime_default_allows_an_ordinary_program_and_denies_acct(tmp_path: Path) -> None:
    text = seccomp_filter.runtime_default()
    program = seccomp_filter.compile_bpf(parse(text, DEFAULT_CAPS, RELEASE))
    assert len(program) // 8 <= seccomp_filter.MAX_INSTRUCTIONS
    assert _probe(program, tmp_path)[:2] == ["0", "0"]


def test_settings_give_no_filter_when_unconfined_or_privileged_and_one_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert seccomp_filter.filter_settings(SecuritySpec(seccomp="unconfined"), DEFAULT_CAPS) == {}
    privileged = SecuritySpec(privileged=True, seccomp="")  # runc: none, whatever is asked
    assert seccomp_filter.filter_settings(privileged, DEFAULT_CAPS) == {}
    default = tmp_path / "default.json"
    default.write_text(_profile({"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}, flags=[
        "SECCOMP_FILTER_FLAG_LOG"
    ]))  # fmt: skip
    monkeypatch.setattr(seccomp_filter, "RUNTIME_DEFAULT", default)
    fields = seccomp_filter.filter_settings(SecuritySpec(seccomp=""), DEFAULT_CAPS)
    assert fields["seccomp_flags"] == 2
    assert _probe(base64.b64decode(fields["seccomp_filter"]), tmp_path)[0] == "1"
    monkeypatch.setattr(seccomp_filter, "RUNTIME_DEFAULT", tmp_path / "missing.json")
    with pytest.raises(FailedPrecondition, match="scripts/services microvm"):
        seccomp_filter.filter_settings(SecuritySpec(seccomp=""), DEFAULT_CAPS)


def test_the_seccomp_line_comes_before_start_only_with_a_filter() -> None:
    base = Launch(
        argv=("true",), env=(), working_dir="/", uid=0, gid=0, hostname="",
        readonly_rootfs=False, readonly_files=(),
    )  # fmt: skip
    assert not [line for line in base.lines() if line.startswith("SECCOMP")]
    filtered = Launch(**{**base.to_json(), "seccomp_filter": "AAAA", "seccomp_flags": 2})
    lines = filtered.lines()
    assert lines[-1] == "START"
    assert "SECCOMP 2 AAAA" in lines
    assert Launch.from_json(filtered.to_json()) == filtered


# In a mount namespace of its own with a tmpfs /run (the host's is untouched): store the filter
# where the agent does, then run the launcher as the agent would, with / as the container's root.
_LAUNCH = """
mount -t tmpfs tmpfs /run && touch /run/target && chown "$UID_" /run/target
[ -z "$PROGRAM" ] || { cp "$PROGRAM" /run/seccomp.bpf && echo 0 > /run/seccomp.flags; }
exec "$LAUNCHER" / / "$UID_" "$UID_" - 0 "$FLAGS" -- /bin/sh sh -c \
    'sed -n "s/^Seccomp:\t//p" /proc/self/status; id -u; chmod 600 /run/target 2>/dev/null; echo $?'
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the launcher chroots and sets ids: root only")
@pytest.mark.parametrize(
    ("uid", "flags"),
    [(0, "-"), (65534, "-"), (65534, "n")],
    ids=["root", "user-without-no-new-privs", "user-with-no-new-privs"],
)
def test_the_launcher_installs_the_filter_whatever_the_user_and_no_new_privs(
    tmp_path: Path, uid: int, flags: str
) -> None:
    """As root, or with no_new_privs, the filter goes in last; a user without no_new_privs
    loses CAP_SYS_ADMIN at setuid, so it goes in before (``seccomp_goes_early``)."""
    launcher = static_program("launch", tmp_path / "build")
    denying = _profile({"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"})
    (tmp_path / "deny.bpf").write_bytes(
        seccomp_filter.compile_bpf(parse(denying, DEFAULT_CAPS, RELEASE))
    )
    outputs = []
    for program in ("", str(tmp_path / "deny.bpf")):
        environment = {
            "PATH": "/usr/bin:/bin", "LAUNCHER": str(launcher), "UID_": str(uid),
            "FLAGS": flags, "PROGRAM": program,
        }  # fmt: skip
        ran = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", _LAUNCH],
            env=environment, capture_output=True, text=True, check=True,
        )  # fmt: skip
        outputs.append(ran.stdout.split())
    # Seccomp mode, uid, chmod's status: unfiltered, then filtered
    assert outputs == [["0", str(uid), "0"], ["2", str(uid), "1"]]
