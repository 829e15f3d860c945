"""Streaming on the microvm backend: exec sessions and attach over virtio-serial ports.

An exec is a session on ports hot-plugged for it (``sessions``: the transport, and why); an
attach follows the workload's output ports and writes to its ``stdin`` port (``attach``). Both
need the VM running: a VM that has ended, or a modelled pod (which runs nothing), answers
FAILED_PRECONDITION on the session's error stream. Port forwarding dials the VM's address on
the bridge, which the host reaches.
"""

from __future__ import annotations

import socket

from reference_shim.backends.microvm.attach import WorkloadAttach
from reference_shim.backends.microvm.backend import MicrovmBackend
from reference_shim.backends.microvm.sessions import ExecSession
from reference_shim.streaming.backend import dial_directly


class MicrovmStreaming:
    """The ``StreamingBackend`` of the microvm backend; VM ids are its VM folders' names."""

    def __init__(self, backend: MicrovmBackend) -> None:
        self._backend = backend

    def exec(self, vm_id: str, argv: list[str], *, stdin: bool, tty: bool) -> ExecSession:
        return self._backend.running_machine(vm_id).sessions.open(argv, stdin=stdin, tty=tty)

    def attach_refusal(self, stdin: bool) -> str | None:
        """Every stream can be attached."""
        return None

    def attach(self, vm_id: str, *, stdin: bool, tty: bool) -> WorkloadAttach:
        """The workload's own terminal setting frames the output (the VM knows it), as ``tty``
        says too: the server passes the container's."""
        return WorkloadAttach(self._backend.running_machine(vm_id).stdio, stdin)

    def dial(self, address: str, port: int, timeout: float) -> socket.socket:
        return dial_directly(address, port, timeout)
