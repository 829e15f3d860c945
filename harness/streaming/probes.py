"""Small shell programs (busybox ``sh``) that make streaming behaviour visible in the output."""

from __future__ import annotations


def terminal_size_probe(width: int, height: int) -> list[str]:
    """Waits (up to 10 s) for its terminal to be ``width`` x ``height``, then prints
    ``tty:<rows> <columns>`` only if stdout is a terminal; resize events arrive asynchronously."""
    wanted = f"{height} {width}"
    script = (
        f'for i in $(seq 100); do s=$(stty size); [ "$s" = "{wanted}" ] && break; '
        "sleep 0.1; done; test -t 1 && echo tty:$s"
    )
    return ["sh", "-c", script]


def expected_terminal_size(width: int, height: int) -> bytes:
    """What ``terminal_size_probe`` prints once resized (a terminal ends lines with \\r\\n)."""
    return f"tty:{height} {width}\r\n".encode()


ATTACH_PROBE = [
    "sh",
    "-c",
    "while :; do echo ready; echo ready >&2; read -t 1 line && break; done; "
    'echo "got:$line"; echo "bye:$line" >&2; sleep 1',
]
"""Announces itself on stdout and stderr every second until a line arrives on stdin, then
echoes it to both and exits a second later. A test writes only once it has seen both outputs
attached (output from before the attach completes is not delivered), and the pause keeps the
answer clear of the exit: containerd 1.6 may close an attach's stderr when the container's
stdout closes at exit, dropping stderr written in the same instant."""
