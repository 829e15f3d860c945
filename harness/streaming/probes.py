"""Small shell programs (busybox ``sh``) that make streaming behaviour visible in the output."""

from __future__ import annotations

from harness.streaming.commands import RemoteCommand
from kube_streaming.remotecommand import ExecResult, StreamType


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
    "while :; do echo ready; echo ready >&2; read -t 0.2 line && break; done; "
    'echo "got:$line"; echo "bye:$line" >&2; read -t 30 _',
]
"""Announces itself on stdout and stderr five times a second until a line arrives on stdin,
then echoes it to both and exits at the next line (or 30 s later). ``converse_with_attach_probe``
writes only once it has seen both outputs attached (output from before the attach completes is
not delivered), and lets the probe exit only once both answers have arrived: containerd 1.6
may close an attach's stderr when the container's stdout closes at exit, dropping stderr
written in the same instant."""

ATTACH_TIMEOUT = 10.0


def converse_with_attach_probe(session: RemoteCommand, line: bytes = b"hello") -> ExecResult:
    """Send ``line`` to an attached ``ATTACH_PROBE``, see both answers, let it exit, and
    return the session's result."""
    stdout, stderr = session.output(StreamType.STDOUT), session.output(StreamType.STDERR)
    stdout.wait_for(b"ready\n", timeout=ATTACH_TIMEOUT)
    stderr.wait_for(b"ready\n", timeout=ATTACH_TIMEOUT)
    session.write_stdin(line + b"\n")
    stdout.wait_for(b"got:" + line + b"\n", timeout=ATTACH_TIMEOUT)
    stderr.wait_for(b"bye:" + line + b"\n", timeout=ATTACH_TIMEOUT)
    session.write_stdin(b"done\n")
    return session.wait()
