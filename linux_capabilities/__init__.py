"""Linux capabilities by name, and the bit masks /proc/<pid>/status shows them as.

The harness reads them in containers and the reference shim on its own host, so they live
outside both packages (neither imports the other). The CRI names capabilities without the
``CAP_`` prefix (``NET_ADMIN``), so this module does too. No library decodes these masks for
us; the table is linux/capability.h in bit order.
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


def decode_caps(mask: str) -> frozenset[str]:
    """The names in a hex mask such as ``00000000a80425fb``; unknown bits become ``BIT_<n>``."""
    value = int(mask, 16)
    names = set()
    for bit in range(value.bit_length()):
        if value >> bit & 1:
            names.add(CAPABILITIES[bit] if bit < len(CAPABILITIES) else f"BIT_{bit}")
    return frozenset(names)
