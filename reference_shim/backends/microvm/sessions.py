"""Streaming exec sessions in one VM, each on virtio-serial ports hot-plugged for it.

The transport: every session gets ports of its own, plugged through QEMU's monitor
(``monitor``) when it starts and unplugged when it ends: ``ID-out``, and ``ID-err`` without a
terminal (a terminal merges stderr into stdout), ``ID-in`` when it has stdin. Chosen over the
alternatives because a port carries raw bytes both ways and its host end is a plain unix
socket, so the guest side stays a busybox shell (a framed multiplex over one port would need a
demultiplexer in the guest, more C than the one pseudo-terminal helper), and over a fixed set of
ports made at boot because it has no limit of sessions but the bus's (31 ports less the VM's
own four: nine sessions at once with stdin and stderr), costs an idle VM nothing (the guest
gives every port 128 pages of receive buffers), and never reuses a port, so nothing of one
session can reach the next.

Two properties of virtio-serial ports shape the wire (README.md, "Streaming"):
- A guest reading a port whose host end is not connected reads end of input. The host connects
  before it sends ``SESSION``, but QEMU may accept later, so the first byte on an ``in`` port is
  the host's ``SYNC``: the agent reads it (retrying) before it starts the command. Stdin's end
  is the host's ``shutdown(SHUT_WR)``: QEMU delivers what is left, then closes the port (a
  close would drop what QEMU had not read yet); with a terminal it is a ^D, as on a terminal.
- Output ports never report the end of the guest's writes (the guest closing its end tells
  QEMU nothing on the socket), and a port's bytes may arrive after a line on ``ctl``. So the
  agent counts what each port carried, and ``SESSIONEND ID CODE OUT_BYTES ERR_BYTES`` ends the
  session's output once that many bytes have arrived.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import queue
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from kube_streaming.remotecommand import StreamType, TerminalSize
from reference_shim.errors import FailedPrecondition

SYNC = b"\0"  # the first byte on an in port (above)
END_OF_INPUT = b"\x04"  # ^D: a terminal's end of input
_READ_BYTES = 64 * 1024
_END_WAIT_S = 10.0  # once its output ended, how long the agent may take to report the exit
_OUTPUTS = {"out": StreamType.STDOUT, "err": StreamType.STDERR}


def connect(path: Path) -> socket.socket:
    """The host's end of a port QEMU listens on."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
    except OSError:
        connection.close()
        raise
    return connection


def _words(values: list[str]) -> str:
    return " ".join(base64.b64encode(value.encode()).decode() for value in values)


class ExecSession:
    """One streaming exec: a ``reference_shim.streaming.backend.Process``."""

    def __init__(
        self,
        session_id: str,
        ports: dict[str, socket.socket],
        tty: bool,
        send: Callable[[str], None],
        release: Callable[[ExecSession], None],
    ) -> None:
        self.id = session_id
        self._ports = ports
        self._tty = tty
        self._send = send
        self._release = release
        self._lock = threading.Lock()
        self._stdin_lock = threading.Lock()  # apart: a write may block while output flows
        self._received = dict.fromkeys(_OUTPUTS, 0)
        self._expected: dict[str, int] | None = None
        self._code: int | None = None
        self._ended = threading.Event()
        self._stdin_open = "in" in ports
        self._chunks: queue.Queue[tuple[StreamType, bytes]] = queue.Queue()
        self._readers = [role for role in _OUTPUTS if role in ports]
        for role in self._readers:
            threading.Thread(target=self._read, args=(role,), daemon=True).start()

    def _read(self, role: str) -> None:
        connection, kind = self._ports[role], _OUTPUTS[role]
        while True:
            try:
                chunk = connection.recv(_READ_BYTES)
            except OSError:
                break
            if not chunk:
                break
            with self._lock:
                self._received[role] += len(chunk)
                expected = self._expected
                complete = expected is not None and self._received[role] >= expected[role]
            self._chunks.put((kind, chunk))
            if complete:
                break
        self._chunks.put((kind, b""))

    def ended(self, code: int, out_bytes: int, err_bytes: int) -> None:
        """The agent's SESSIONEND: output ends once the counted bytes have arrived."""
        with self._lock:
            self._code = code
            self._expected = {"out": out_bytes, "err": err_bytes}
            done = [role for role in self._readers if self._received[role] >= self._expected[role]]
        for role in done:  # wake a reader that has every byte but waits for more
            with contextlib.suppress(OSError):
                self._ports[role].shutdown(socket.SHUT_RD)
        self._ended.set()

    def vm_ended(self) -> None:
        """QEMU ended: its sockets closed, so the readers end; there is no exit code."""
        self._ended.set()

    def write_stdin(self, data: bytes) -> None:
        with self._stdin_lock:
            if not self._stdin_open:
                raise BrokenPipeError(errno.EPIPE, "the command's stdin is closed")
            self._ports["in"].sendall(data)

    def close_stdin(self) -> None:
        if self._tty:
            self.write_stdin(END_OF_INPUT)
            return
        with self._stdin_lock:
            if self._stdin_open:
                self._stdin_open = False
                with contextlib.suppress(OSError):
                    self._ports["in"].shutdown(socket.SHUT_WR)

    def output(self) -> Iterator[tuple[StreamType, bytes]]:
        open_streams = len(self._readers)
        while open_streams:
            kind, chunk = self._chunks.get()
            if chunk:
                yield kind, chunk
            else:
                open_streams -= 1

    def resize(self, size: TerminalSize) -> None:
        if self._tty:
            self._send(f"RESIZE {self.id} {size.height} {size.width}")

    def wait(self) -> int | None:
        if not self._ended.wait(_END_WAIT_S) or self._code is None:
            raise FailedPrecondition("the VM ended (or its agent did not report) while it ran")
        return self._code

    def cancel(self) -> None:
        """The client left: the agent kills the command and its descendants; output ends now."""
        if not self._ended.is_set():
            with contextlib.suppress(FailedPrecondition):
                self._send(f"SESSIONKILL {self.id}")
        for role in self._readers:
            with contextlib.suppress(OSError):
                self._ports[role].shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if not self._ended.is_set():
            self.cancel()
        self._release(self)
        for connection in self._ports.values():
            connection.close()

    @property
    def port_names(self) -> list[str]:
        return [f"{self.id}-{role}" for role in self._ports]


class PortPlugs(Protocol):
    """What plugs a session's ports into the VM: its QEMU monitor (``monitor.Monitor``)."""

    def plug_port(self, name: str, socket_path: Path) -> None: ...

    def unplug_port(self, name: str) -> None: ...


class Sessions:
    """A VM's streaming exec sessions: opened here, ended by the agent's SESSIONEND."""

    def __init__(self, sockets: Path, monitor: PortPlugs, send: Callable[[str], None]) -> None:
        self._sockets = sockets
        self._monitor = monitor
        self._send = send
        self._lock = threading.Lock()
        self._open: dict[str, ExecSession] = {}

    def open(self, argv: list[str], *, stdin: bool, tty: bool) -> ExecSession:
        session_id = secrets.token_hex(6)
        roles = ["out", *([] if tty else ["err"]), *(["in"] if stdin else [])]
        ports: dict[str, socket.socket] = {}
        try:
            for role in roles:
                name = f"{session_id}-{role}"
                path = self._sockets / f"{name}.sock"
                self._monitor.plug_port(name, path)
                ports[role] = connect(path)
            if stdin:
                ports["in"].sendall(SYNC)
            session = ExecSession(session_id, ports, tty, self._send, self._release)
            with self._lock:
                self._open[session_id] = session
            self._send(f"SESSION {session_id} {int(tty)} {int(stdin)} {_words(argv)}")
        except BaseException:
            for connection in ports.values():
                connection.close()
            for role in roles:
                self._monitor.unplug_port(f"{session_id}-{role}")
            with self._lock:
                self._open.pop(session_id, None)
            raise
        return session

    def _release(self, session: ExecSession) -> None:
        with self._lock:
            self._open.pop(session.id, None)
        for name in session.port_names:
            self._monitor.unplug_port(name)
            (self._sockets / f"{name}.sock").unlink(missing_ok=True)

    def ended(self, report: str) -> None:
        """The agent's ``SESSIONEND ID CODE OUT_BYTES ERR_BYTES`` (after the word SESSIONEND)."""
        session_id, code, out_bytes, err_bytes = report.split()
        with self._lock:
            session = self._open.get(session_id)
        if session is not None:
            session.ended(int(code), int(out_bytes), int(err_bytes))

    def vm_ended(self) -> None:
        with self._lock:
            sessions = list(self._open.values())
        for session in sessions:
            session.vm_ended()
