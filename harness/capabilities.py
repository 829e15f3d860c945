"""What the suites assert about capabilities: the ones no runtime grants by default, and
how a set differs from the one wanted. The names and masks are ``linux_capabilities``."""

from __future__ import annotations

# Capabilities that let a process take over the node; no runtime grants them by default.
NODE_ADMIN = frozenset({"SYS_ADMIN", "NET_ADMIN", "SYS_MODULE", "SYS_RAWIO", "SYS_TIME"})


def difference(name: str, held: frozenset[str], wanted: frozenset[str]) -> str:
    """``CapEff lacks BPF, PERFMON; holds NET_ADMIN besides``: what an assertion should say."""
    parts = [f"lacks {', '.join(sorted(wanted - held))}"] if wanted - held else []
    parts += [f"holds {', '.join(sorted(held - wanted))} besides"] if held - wanted else []
    return f"{name} {'; '.join(parts)}" if parts else f"{name} is as expected"
