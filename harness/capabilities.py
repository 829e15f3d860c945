"""Linux capabilities by name, and the bit masks /proc/<pid>/status shows them as.

The CRI names capabilities without the ``CAP_`` prefix (``NET_ADMIN``), so this module does
too. No library decodes these masks for us; the table is linux/capability.h in bit order.
"""

from __future__ import annotations

# Index = bit number in CapEff/CapPrm/CapBnd (linux/capability.h).
CAPABILITIES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
)

# Capabilities that let a process take over the node; no runtime grants them by default.
NODE_ADMIN = frozenset({"SYS_ADMIN", "NET_ADMIN", "SYS_MODULE", "SYS_RAWIO", "SYS_TIME"})


def decode_caps(mask: str) -> frozenset[str]:
    """The names in a hex mask such as ``00000000a80425fb``; unknown bits become ``BIT_<n>``."""
    value = int(mask, 16)
    names = set()
    for bit in range(value.bit_length()):
        if value >> bit & 1:
            names.add(CAPABILITIES[bit] if bit < len(CAPABILITIES) else f"BIT_{bit}")
    return frozenset(names)


def difference(name: str, held: frozenset[str], wanted: frozenset[str]) -> str:
    """``CapEff lacks BPF, PERFMON; holds NET_ADMIN besides``: what an assertion should say."""
    parts = [f"lacks {', '.join(sorted(wanted - held))}"] if wanted - held else []
    parts += [f"holds {', '.join(sorted(held - wanted))} besides"] if held - wanted else []
    return f"{name} {'; '.join(parts)}" if parts else f"{name} is as expected"
