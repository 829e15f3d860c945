"""Streaming on the microvm backend: port forwarding dials the VM's address on the bridge,
which the host reaches. Exec and attach are not there yet: they answer UNIMPLEMENTED with the
reason, at the CRI call where the server asks (``attach_refusal``) or when the session starts."""

from __future__ import annotations

import socket

from reference_shim.errors import Unimplemented
from reference_shim.streaming.backend import Process, dial_directly

_WHY = "the microvm agent has no live exec or attach yet (ExecSync works)"


class MicrovmStreaming:
    def exec(self, vm_id: str, argv: list[str], *, stdin: bool, tty: bool) -> Process:
        raise Unimplemented(f"streaming exec: {_WHY}")

    def attach_refusal(self, stdin: bool) -> str | None:
        return f"attach: {_WHY}"

    def attach(self, vm_id: str, *, stdin: bool, tty: bool) -> Process:
        raise Unimplemented(f"attach: {_WHY}")

    def dial(self, address: str, port: int, timeout: float) -> socket.socket:
        return dial_directly(address, port, timeout)
