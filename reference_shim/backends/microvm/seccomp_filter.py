"""A container's seccomp filter, compiled on the host to the classic BPF program its launcher loads.

libseccomp (``pyseccomp``: ctypes bindings to the host's ``libseccomp.so.2``, API-compatible
with libseccomp's own Python bindings) turns the profile's rules into BPF as runc has it do
(``libcontainer/seccomp``): a syscall name libseccomp does not know is skipped, a rule whose
action is the default is redundant and skipped, conditions on distinct arguments are one rule
(all must hold) and several on the same argument one rule each. The guest gets the program as
bytes (the ``SECCOMP`` line) and its launcher installs it with ``seccomp(2)``: the guest needs
no libseccomp and no profile parser. RuntimeDefault is the default profile of CRI-O and Podman,
containers/common's ``seccomp.json``, as Debian's ``golang-github-containers-common`` installs
it (``scripts/services microvm``): an allow list, like containerd's and Docker's.
"""

from __future__ import annotations

import base64
import functools
import tempfile
from pathlib import Path
from typing import Any

import pyseccomp

from reference_shim.backends.base import SecuritySpec
from reference_shim.backends.microvm.guest import GuestKernel
from reference_shim.backends.microvm.seccomp_profile import Action, Profile, Rule, parse
from reference_shim.errors import FailedPrecondition, InvalidArgument

RUNTIME_DEFAULT = Path("/usr/share/containers/seccomp.json")
MAX_INSTRUCTIONS = 4096  # BPF_MAXINSNS: the kernel refuses a longer program
# libseccomp's SCMP_FLTATR_CTL_OPTIMIZE 2: the syscalls sorted into a binary tree, not tried one
# by one. Under TCG every BPF instruction the guest runs is translated: 400,000 syscalls took
# 1.12 s (median of 4) with the tree, 1.33 s without and 1.16 s unconfined (README, Seccomp).
_BINARY_TREE = 2
_NO_SUCH_SYSCALL = -1  # __NR_SCMP_ERROR; other negative numbers are libseccomp's pseudo-syscalls
_ARCHITECTURES = {
    "SCMP_ARCH_X86_64": pyseccomp.Arch.X86_64,
    "SCMP_ARCH_X86": pyseccomp.Arch.X86,
    "SCMP_ARCH_X32": pyseccomp.Arch.X32,
}
_OPERATORS = {
    "SCMP_CMP_NE": pyseccomp.NE, "SCMP_CMP_LT": pyseccomp.LT, "SCMP_CMP_LE": pyseccomp.LE,
    "SCMP_CMP_EQ": pyseccomp.EQ, "SCMP_CMP_GE": pyseccomp.GE, "SCMP_CMP_GT": pyseccomp.GT,
    "SCMP_CMP_MASKED_EQ": pyseccomp.MASKED_EQ,
}  # fmt: skip


def _action(action: Action) -> int:
    if action.name == "SCMP_ACT_ERRNO":
        return int(pyseccomp.ERRNO(action.errno))
    if action.name == "SCMP_ACT_TRACE":
        return int(pyseccomp.TRACE(action.errno))
    return int(getattr(pyseccomp, action.name.removeprefix("SCMP_ACT_")))


def runtime_default() -> str:
    try:
        return RUNTIME_DEFAULT.read_text()
    except OSError as error:
        raise FailedPrecondition(
            f"linux.security_context.seccomp RuntimeDefault: the default profile {RUNTIME_DEFAULT} "
            f"cannot be read ({error.strerror}); run `scripts/services microvm` (as root)"
        ) from None


@functools.cache
def guest_release() -> tuple[int, ...]:
    """The guest kernel's version (``(6, 1, 0)``), for the profile's ``minKernel``."""
    modules = sorted((GuestKernel.installed().tree / "lib" / "modules").iterdir())
    version = modules[-1].name.split("-")[0]
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _add(bpf: Any, rule: Rule, default: Action) -> None:
    if rule.action == default:
        return  # libseccomp refuses a rule that does what the default does
    action = _action(rule.action)
    arguments = [
        pyseccomp.Arg(c.index, _OPERATORS[c.operator], c.value, c.value_two)
        for c in rule.conditions
    ]
    indexes = [c.index for c in rule.conditions]
    # libseccomp ANDs a rule's conditions but takes one per argument: several on the same
    # argument become a rule each (runc's "old behaviour"), which ORs them.
    groups = [[a] for a in arguments] if len(set(indexes)) < len(indexes) else [arguments]
    for name in rule.names:
        number = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
        if number == _NO_SUCH_SYSCALL:
            continue  # unknown to this libseccomp: runc skips it too
        for group in groups:
            try:
                bpf.add_rule(action, number, *group)
            except OSError as error:
                raise InvalidArgument(
                    f"seccomp profile: libseccomp refuses the rule for {name}: {error.strerror}"
                ) from None


def compile_bpf(profile: Profile) -> bytes:
    """The BPF program of ``profile``: ``struct sock_filter`` entries, 8 bytes each."""
    if pyseccomp.system_arch() != pyseccomp.Arch.X86_64:
        raise FailedPrecondition(
            "linux.security_context.seccomp: the host's libseccomp numbers syscalls for its own "
            "architecture, and the guest is x86_64; seccomp needs an x86_64 host"
        )
    bpf = pyseccomp.SyscallFilter(_action(profile.default))
    for name, arch in _ARCHITECTURES.items():
        if name in profile.architectures and not bpf.exist_arch(arch):
            bpf.add_arch(arch)
        elif name not in profile.architectures and bpf.exist_arch(arch):
            bpf.remove_arch(arch)
    for rule in profile.rules:
        _add(bpf, rule, profile.default)
    bpf.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, _BINARY_TREE)
    with tempfile.TemporaryFile() as program:
        bpf.export_bpf(program)
        program.seek(0)
        data = program.read()
    if len(data) > MAX_INSTRUCTIONS * 8:
        raise InvalidArgument(
            f"seccomp profile: its filter has {len(data) // 8} instructions, more than the "
            f"kernel's {MAX_INSTRUCTIONS}"
        )
    return data


def filter_settings(security: SecuritySpec, capabilities: frozenset[str]) -> dict[str, Any]:
    """The ``Launch`` fields for ``security``, whose workload holds ``capabilities`` (its
    bounding set, names as ``SYS_ADMIN``): none for an unconfined or privileged container (runc
    gives a privileged one no filter, whatever is asked)."""
    if security.privileged or security.seccomp == "unconfined":
        return {}
    profile = parse(security.seccomp or runtime_default(), capabilities, guest_release())
    return {
        "seccomp_filter": base64.b64encode(compile_bpf(profile)).decode(),
        "seccomp_flags": profile.flags,
    }
