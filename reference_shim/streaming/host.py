"""A child process of the shim as a streaming ``Process``: on pipes, or on a pseudo-terminal.

A backend whose exec is a host command (Apple's ``container exec``) streams that command's
stdio. Without a tty stdout and stderr stay apart on two pipes; with one the child gets a
host pseudo-terminal as its stdio, so it sees a terminal (and merges its output, as a
terminal does), and a resize sets that terminal's size.

Writes to stdin and the close of its fd are serialised: the stdin pump may still write
when the session ends, and must get an error then, never write to a reused fd number.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import queue
import signal
import struct
import subprocess
import termios
import threading
from collections.abc import Iterator, Mapping
from typing import IO

from kube_streaming.remotecommand import StreamType, TerminalSize
from reference_shim.streaming.backend import Process

_READ_BYTES = 64 * 1024
_EXIT_WAIT_S = 10.0  # once its output ended, how long the child may take to exit
_GRACE_S = 2.0  # after SIGTERM, before SIGKILL, when the client left first
_END_OF_INPUT = b"\x04"  # ^D: a terminal's end of input


class HostProcess:
    """What both kinds share: the child, the fd its stdin is written to, and its end."""

    def __init__(self, popen: subprocess.Popen[bytes], stdin_fd: int | None) -> None:
        self._popen = popen
        self._stdin_fd = stdin_fd
        self._lock = threading.Lock()

    def write_stdin(self, data: bytes) -> None:
        with self._lock:
            if self._stdin_fd is None:
                raise BrokenPipeError(errno.EPIPE, "the command's stdin is closed")
            view = memoryview(data)
            while view:
                view = view[os.write(self._stdin_fd, view) :]

    def _release_stdin(self) -> None:
        with self._lock:
            if self._stdin_fd is not None:
                os.close(self._stdin_fd)
                self._stdin_fd = None

    def wait(self) -> int | None:
        return self._popen.wait(_EXIT_WAIT_S)

    def close(self) -> None:
        """End the session; a child still running is stopped."""
        self.cancel()
        self._release_stdin()

    def cancel(self) -> None:
        """The client left: stop the child (SIGTERM first: a CLI may forward it to the
        command), which ends its output."""
        if self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(_GRACE_S)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()


class PipedProcess(HostProcess):
    """stdin, stdout and stderr on pipes; the output pipes drained from the start."""

    def __init__(self, argv: list[str], stdin: bool, env: Mapping[str, str] | None = None) -> None:
        stdin_fd: int | None = None
        child_stdin: int = subprocess.DEVNULL
        if stdin:
            child_stdin, stdin_fd = os.pipe()
        try:
            popen = subprocess.Popen(
                argv, stdin=child_stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, start_new_session=True,  # the shim's terminal signals are not its
            )  # fmt: skip
        except OSError:
            if stdin_fd is not None:
                os.close(stdin_fd)
            raise
        finally:
            if stdin:
                os.close(child_stdin)
        super().__init__(popen, stdin_fd)
        self._chunks: queue.Queue[tuple[StreamType, bytes]] = queue.Queue()
        for kind, pipe in ((StreamType.STDOUT, popen.stdout), (StreamType.STDERR, popen.stderr)):
            assert pipe is not None  # both are PIPE
            threading.Thread(target=self._drain, args=(kind, pipe), daemon=True).start()

    def _drain(self, kind: StreamType, pipe: IO[bytes]) -> None:
        with pipe:
            while chunk := os.read(pipe.fileno(), _READ_BYTES):
                self._chunks.put((kind, chunk))
        self._chunks.put((kind, b""))

    def close_stdin(self) -> None:
        self._release_stdin()

    def output(self) -> Iterator[tuple[StreamType, bytes]]:
        open_pipes = 2
        while open_pipes:
            kind, chunk = self._chunks.get()
            if chunk:
                yield kind, chunk
            else:
                open_pipes -= 1

    def resize(self, size: TerminalSize) -> None:
        """Without a terminal there is no size to set (Docker ignores it too)."""


class TerminalProcess(HostProcess):
    """The child's stdio is the replica of a pseudo-terminal; the shim holds its master."""

    def __init__(self, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        master, replica = pty.openpty()
        try:
            popen = subprocess.Popen(
                argv, stdin=replica, stdout=replica, stderr=replica, env=env,
                start_new_session=True,
            )  # fmt: skip
        except OSError:
            os.close(master)
            raise
        finally:
            os.close(replica)
        super().__init__(popen, master)
        self._master = master

    def close_stdin(self) -> None:
        """A terminal's input ends with ^D; closing the master would end the output too."""
        self.write_stdin(_END_OF_INPUT)

    def output(self) -> Iterator[tuple[StreamType, bytes]]:
        while True:
            try:
                chunk = os.read(self._master, _READ_BYTES)
            except OSError:  # EIO: the terminal's last writer is gone
                return
            if not chunk:
                return
            yield StreamType.STDOUT, chunk

    def resize(self, size: TerminalSize) -> None:
        """Set the size, then signal the child: the terminal is not its controlling one
        (making it so needs code between fork and exec, unsafe in a threaded server), so the
        kernel sends no SIGWINCH; the child reads the new size when told, as from a terminal."""
        packed = struct.pack("HHHH", size.height, size.width, 0, 0)
        with self._lock:
            if self._stdin_fd is None:
                return
            fcntl.ioctl(self._master, termios.TIOCSWINSZ, packed)
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGWINCH)


def host_process(
    argv: list[str], *, stdin: bool, tty: bool, env: Mapping[str, str] | None = None
) -> Process:
    """``argv`` started with live stdio: a terminal when ``tty``, else pipes."""
    return TerminalProcess(argv, env) if tty else PipedProcess(argv, stdin, env)
