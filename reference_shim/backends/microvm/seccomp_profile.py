"""A seccomp profile in the OCI/Docker JSON format, resolved for one container of an x86_64 VM.

The format is the OCI runtime spec's ``linux.seccomp`` (``defaultAction``, ``defaultErrnoRet``,
``architectures``, ``flags``, ``syscalls`` with ``names``, ``action``, ``errnoRet``, ``args``)
plus Docker's extensions that containerd, CRI-O and the kubelet's Localhost profiles use:
``archMap`` and each rule's ``includes``/``excludes`` (``caps``, ``arches``, ``minKernel``).
Resolving a rule's conditions is what Docker's ``setupSeccomp`` does (moby's
``profiles/seccomp``): a rule applies when every capability it includes is in the container's
bounding set, none it excludes is, its arches name the guest's (``amd64``) and its kernel
condition holds for the guest's kernel. What is left is what runc hands libseccomp, which
``seccomp_filter`` does. No Python library reads this format (libseccomp's bindings take rules,
not profiles), hence this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from reference_shim.errors import InvalidArgument, Unimplemented

GUEST_ARCH = "amd64"  # Docker's name (Go's GOARCH) for the guest's architecture, in ``arches``
# libseccomp's names of what an x86_64 kernel runs: its own, i386 and x32 programs.
GUEST_ARCHITECTURES = ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")
EPERM = 1  # runc's errno for an ERRNO action that names none
# Actions as libseccomp names them (runc's ``seccomp`` package); NOTIFY needs a listener on the
# node (``listenerPath``), which a VM's guest cannot reach.
ACTIONS = frozenset(
    {
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",
    }
)  # fmt: skip
WITH_ERRNO = frozenset({"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"})  # the actions errnoRet goes with
_RETURN_DATA = 0xFFFF  # SECCOMP_RET_DATA: what an action carries (an errno, TRACE's message)
OPERATORS = frozenset(
    {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
     "SCMP_CMP_MASKED_EQ"}
)  # fmt: skip
# seccomp(2)'s filter flags that mean something for one single-threaded launcher; the kernel's
# values (linux/seccomp.h). WAIT_KILLABLE_RECV and NEW_LISTENER go with NOTIFY, refused.
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
}


@dataclass(frozen=True)
class Action:
    """A libseccomp action; ``errno`` is the errno of ERRNO and the message of TRACE."""

    name: str
    errno: int = 0


@dataclass(frozen=True)
class Condition:
    """One comparison of a syscall argument (libseccomp's ``scmp_arg_cmp``)."""

    index: int
    operator: str
    value: int
    value_two: int = 0


@dataclass(frozen=True)
class Rule:
    """Syscalls by name, the action taken, and the conditions that must all hold for it."""

    names: tuple[str, ...]
    action: Action
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Profile:
    default: Action
    architectures: tuple[str, ...]
    flags: int
    rules: tuple[Rule, ...]


def _field(document: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = document.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArgument(f"seccomp profile: {key!r} must be a {kind.__name__}, not {value!r}")
    return value


def _action(name: Any, errno: int | None) -> Action:
    if name == "SCMP_ACT_NOTIFY":
        raise Unimplemented(
            "linux.security_context.seccomp: SCMP_ACT_NOTIFY needs a seccomp agent listening on "
            "the node (listenerPath), which a workload in a VM cannot reach"
        )
    if name not in ACTIONS:
        raise InvalidArgument(f"seccomp profile: {name!r} is not a seccomp action")
    if errno is not None and name not in WITH_ERRNO:
        raise InvalidArgument(f"seccomp profile: errnoRet is not supported for {name}")
    if errno is not None and not 0 <= errno <= _RETURN_DATA:
        raise InvalidArgument(f"seccomp profile: errnoRet {errno} is not 0 to {_RETURN_DATA}")
    return Action(name, EPERM if errno is None and name in WITH_ERRNO else errno or 0)


def _architectures(document: dict[str, Any]) -> tuple[str, ...]:
    """The profile's architectures an x86_64 guest runs (a filter for another one never sees a
    syscall there); none named: all three, as runc adds the native one and Docker its
    ``archMap`` entry's subarchitectures."""
    named = list(_field(document, "architectures", list, []))
    for entry in _field(document, "archMap", list, []):
        if isinstance(entry, dict) and entry.get("architecture") == GUEST_ARCHITECTURES[0]:
            named += [entry["architecture"], *(entry.get("subArchitectures") or [])]
    for name in named:
        if not isinstance(name, str) or not name.startswith("SCMP_ARCH_"):
            raise InvalidArgument(f"seccomp profile: {name!r} is not an architecture")
    found = tuple(name for name in GUEST_ARCHITECTURES if name in named)
    return found or GUEST_ARCHITECTURES


def _flags(document: dict[str, Any]) -> int:
    flags = 0
    for name in _field(document, "flags", list, []):
        if name not in FLAGS:
            raise InvalidArgument(
                f"seccomp profile: flag {name!r} is none of {', '.join(sorted(FLAGS))}"
            )
        flags |= FLAGS[name]
    return flags


def _kernel_at_least(release: tuple[int, ...], minimum: Any) -> bool:
    try:
        wanted = tuple(int(part) for part in str(minimum).split("."))
    except ValueError:
        raise InvalidArgument(f"seccomp profile: minKernel {minimum!r} is no version") from None
    return release >= wanted


def _applies(rule: dict[str, Any], capabilities: frozenset[str], release: tuple[int, ...]) -> bool:
    """Docker's conditions: ``capabilities`` are the bounding set's names (``SYS_ADMIN``)."""
    held = {f"CAP_{name}" for name in capabilities}
    includes = _field(rule, "includes", dict, {})
    excludes = _field(rule, "excludes", dict, {})
    if GUEST_ARCH in (excludes.get("arches") or ()) or held & set(excludes.get("caps") or ()):
        return False
    if excludes.get("minKernel") and _kernel_at_least(release, excludes["minKernel"]):
        return False
    arches = includes.get("arches") or ()
    if arches and GUEST_ARCH not in arches:
        return False
    if not set(includes.get("caps") or ()) <= held:
        return False
    return not includes.get("minKernel") or _kernel_at_least(release, includes["minKernel"])


def _condition(argument: Any) -> Condition:
    if not isinstance(argument, dict) or argument.get("op") not in OPERATORS:
        raise InvalidArgument(f"seccomp profile: {argument!r} is not an argument condition")
    index = _field(argument, "index", int, -1)
    if not 0 <= index < 6:
        raise InvalidArgument(f"seccomp profile: argument index {index} is not 0 to 5")
    value, value_two = _field(argument, "value", int, 0), _field(argument, "valueTwo", int, 0)
    if not (0 <= value < 1 << 64 and 0 <= value_two < 1 << 64):
        raise InvalidArgument(f"seccomp profile: {argument!r} compares with no 64-bit value")
    return Condition(index, argument["op"], value, value_two)


def _rule(rule: dict[str, Any]) -> Rule:
    names = _field(rule, "names", list, [])
    if _field(rule, "name", str, ""):
        if names:
            raise InvalidArgument("seccomp profile: a rule has both 'name' and 'names'")
        names = [rule["name"]]
    if not names or not all(isinstance(name, str) and name for name in names):
        raise InvalidArgument(f"seccomp profile: rule {rule!r} names no syscall")
    errno = _field(rule, "errnoRet", int, None)
    action = _action(rule.get("action"), errno)  # no errnoRet: EPERM (runc), not the default's
    conditions = tuple(_condition(argument) for argument in _field(rule, "args", list, []))
    return Rule(tuple(names), action, conditions)


def parse(text: str, capabilities: frozenset[str], release: tuple[int, ...]) -> Profile:
    """The profile ``text`` for a container holding ``capabilities`` (its bounding set) on a
    guest kernel of ``release`` (``(6, 1, 0)``); a profile that is not one: INVALID_ARGUMENT."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InvalidArgument(f"seccomp profile is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidArgument("seccomp profile is not a JSON object")
    if document.get("listenerPath"):
        _action("SCMP_ACT_NOTIFY", None)
    if "defaultAction" not in document:
        raise InvalidArgument("seccomp profile has no defaultAction")
    default_errno = _field(document, "defaultErrnoRet", int, None)
    default = _action(document["defaultAction"], default_errno)
    rules = []
    for rule in _field(document, "syscalls", list, []):
        if not isinstance(rule, dict):
            raise InvalidArgument(f"seccomp profile: syscall rule {rule!r} is not an object")
        parsed = _rule(rule)  # every rule is checked, also one that does not apply here
        if _applies(rule, capabilities, release):
            rules.append(parsed)
    return Profile(default, _architectures(document), _flags(document), tuple(rules))
