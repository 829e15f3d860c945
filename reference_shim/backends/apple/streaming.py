"""Streaming on the Apple backend: ``container exec`` child processes and recorded output.

- Exec runs ``container exec [-i] [-t] <id> argv…`` on the host. The CLI streams the command's
  stdio and exits with its exit code (128+N for a signal), so the child process is the
  session; with a tty it gets a host terminal, whose size the CLI forwards to the VM's.
- Attach: Apple's CLI cannot attach to a running container, and the container's stdio belongs
  to its keeper (``start --attach``), which records the output. An attach follows that record
  from the moment it connects; stdin cannot reach the workload, so an attach asking for it is
  refused at the CRI call.
- Port forwarding connects to the pod VM's address: the host reaches vmnet addresses itself.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

from kube_streaming.remotecommand import StreamType, TerminalSize
from reference_shim.backends.apple.backend import AppleBackend
from reference_shim.backends.recorded_output import RecordedOutput
from reference_shim.errors import Unimplemented
from reference_shim.streaming.backend import Process, dial_directly
from reference_shim.streaming.host import host_process
from reference_shim.timestamps import now_ns

ATTACH_STDIN = (
    "Apple's container CLI cannot attach to a running container (only `container start "
    "--attach` reaches its stdin, and the shim's keeper holds that); attach without stdin "
    "streams the output, and `container exec -i` (CRI Exec) takes input"
)


class RecordedAttach:
    """An attach: the workload's output as its keeper records it; nothing goes in."""

    def __init__(self, output: RecordedOutput) -> None:
        self._output = output

    def write_stdin(self, data: bytes) -> None:
        raise Unimplemented(ATTACH_STDIN)

    def close_stdin(self) -> None:
        """No stdin was opened."""

    def output(self) -> Iterator[tuple[StreamType, bytes]]:
        for record in self._output:
            ending = b"" if record.partial else b"\n"
            yield StreamType(record.stream), record.data + ending

    def resize(self, size: TerminalSize) -> None:
        """The workload's terminal, if any, is the keeper's; the shim cannot size it."""

    def wait(self) -> int | None:
        return None

    def cancel(self) -> None:
        """The workload is not the session's: only stop following its output."""
        self._output.close()

    def close(self) -> None:
        self._output.close()


class AppleStreaming:
    """The ``StreamingBackend`` of the Apple backend; VM ids are Apple container ids."""

    def __init__(self, backend: AppleBackend) -> None:
        self._backend = backend

    def exec(self, vm_id: str, argv: list[str], *, stdin: bool, tty: bool) -> Process:
        flags = [*(["-i"] if stdin else []), *(["-t"] if tty else [])]
        # Everything after the container id is the command, even arguments that look like flags.
        command = self._backend.cli.command("exec", *flags, vm_id, *argv)
        return host_process(command, stdin=stdin, tty=tty, env=self._backend.cli.env)

    def attach_refusal(self, stdin: bool) -> str | None:
        return ATTACH_STDIN if stdin else None

    def attach(self, vm_id: str, *, stdin: bool, tty: bool) -> RecordedAttach:
        """Output from now on, as Docker's attach without logs; a tty merged it already."""
        return RecordedAttach(self._backend.follow_output(vm_id, since=now_ns()))

    def dial(self, address: str, port: int, timeout: float) -> socket.socket:
        return dial_directly(address, port, timeout)
