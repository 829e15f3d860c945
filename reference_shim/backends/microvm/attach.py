"""Attach to a VM's workload: its output as the host reads it, its stdin port, its terminal.

The workload's stdout and stderr ports are read by the machine (``machine``), which records
them as CRI log lines; an attach also gets every chunk read while it is attached, as it was
written (a terminal's bytes unchanged), and ends when the VM does. With ``stdin`` in its spec
the VM has a fourth boot port, ``stdin``, which the host keeps connected for the VM's life, so
that the workload's stdin stays open between attaches; ``stdin_once`` closes it when the first
attach with stdin ends (the kubelet's meaning), by ``shutdown(SHUT_WR)`` after a ^D when the
workload has a terminal. A resize is ``RESIZE workload ROWS COLUMNS`` on ``ctl``.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from collections.abc import Callable, Iterator

from kube_streaming.remotecommand import StreamType, TerminalSize
from reference_shim.backends.microvm.sessions import END_OF_INPUT, SYNC

_STREAMS = {"stdout": StreamType.STDOUT, "stderr": StreamType.STDERR}
_Chunk = tuple[StreamType, bytes] | None  # None: the output ended


class WorkloadStdio:
    """The workload's side of every attach to one VM."""

    def __init__(self, send: Callable[[str], None], tty: bool, stdin_once: bool) -> None:
        self._send = send
        self.tty = tty
        self._stdin_once = stdin_once
        self._lock = threading.Lock()
        self._stdin_lock = threading.Lock()
        self._stdin: socket.socket | None = None
        self._stdin_open = False
        self._listeners: set[queue.Queue[_Chunk]] = set()
        self._ended = False

    def connect_stdin(self, connection: socket.socket) -> None:
        """The host's end of the ``stdin`` port; its first byte is the ``SYNC``."""
        connection.sendall(SYNC)
        self._stdin, self._stdin_open = connection, True

    def feed(self, stream: str, chunk: bytes) -> None:
        """A chunk the machine read from the workload's ``stream`` port."""
        with self._lock:
            for listener in self._listeners:
                listener.put((_STREAMS[stream], chunk))

    def ended(self) -> None:
        """The VM ended: every attach's output ends, and its stdin closes."""
        with self._lock:
            self._ended = True
            for listener in self._listeners:
                listener.put(None)
        self.close_stdin()
        if self._stdin is not None:
            self._stdin.close()

    def listen(self) -> queue.Queue[_Chunk]:
        listener: queue.Queue[_Chunk] = queue.Queue()
        with self._lock:
            if self._ended:
                listener.put(None)
            self._listeners.add(listener)
        return listener

    def forget(self, listener: queue.Queue[_Chunk]) -> None:
        with self._lock:
            self._listeners.discard(listener)
        listener.put(None)

    def write_stdin(self, data: bytes) -> None:
        """To the workload's stdin; without one (no ``stdin`` in its spec, or closed by
        ``stdin_once``) it goes nowhere."""
        with self._stdin_lock:
            if self._stdin is not None and self._stdin_open:
                self._stdin.sendall(data)

    def close_stdin(self) -> None:
        with self._stdin_lock:
            if self._stdin is None or not self._stdin_open:
                return
            self._stdin_open = False
            with contextlib.suppress(OSError):
                if self.tty:
                    self._stdin.sendall(END_OF_INPUT)
                self._stdin.shutdown(socket.SHUT_WR)

    def session_ended(self, had_stdin: bool) -> None:
        """An attach ended: with ``stdin_once``, the first one with stdin closes the workload's."""
        if had_stdin and self._stdin_once:
            self.close_stdin()

    def resize(self, size: TerminalSize) -> None:
        if self.tty:
            self._send(f"RESIZE workload {size.height} {size.width}")


class WorkloadAttach:
    """One attach: a ``reference_shim.streaming.backend.Process`` with no exit code."""

    def __init__(self, stdio: WorkloadStdio, stdin: bool) -> None:
        self._stdio = stdio
        self._stdin = stdin
        self._listener = stdio.listen()
        self._closed = False

    def write_stdin(self, data: bytes) -> None:
        self._stdio.write_stdin(data)

    def close_stdin(self) -> None:
        """The client's end of input: the workload's only with ``stdin_once`` (Docker's rule)."""
        self._stdio.session_ended(self._stdin)

    def output(self) -> Iterator[tuple[StreamType, bytes]]:
        while (chunk := self._listener.get()) is not None:
            yield chunk

    def resize(self, size: TerminalSize) -> None:
        self._stdio.resize(size)

    def wait(self) -> int | None:
        return None

    def cancel(self) -> None:
        """Only let go: the workload is not the session's."""
        self._stdio.forget(self._listener)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._stdio.forget(self._listener)
            self._stdio.session_ended(self._stdin)
