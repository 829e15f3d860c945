"""Running an exec or attach between a backend process and a client's streams.

The same loop serves SPDY and WebSocket clients: stdin and resize events flow in on their own
threads, output flows out on this one, and the exit status goes on the error stream as
kubelet encodes it.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from kube_streaming.notice import Notice
from kube_streaming.remotecommand import (
    StreamOptions,
    StreamType,
    TerminalSize,
    exit_code_status,
    failure_status,
    success_status,
)
from reference_shim.streaming.backend import Process

log = logging.getLogger(__name__)


class CommandStreams(Protocol):
    """A client session, whatever its protocol."""

    departed: Notice
    """Set when the client's connection ended (or the session closed it)."""

    def read_stdin(self) -> bytes:
        """The next stdin chunk; b"" once the client ended stdin or went away."""

    def next_resize(self) -> TerminalSize | None:
        """The next terminal size; None once the client went away."""

    def write_output(self, kind: StreamType, data: bytes) -> None: ...

    def finish(self, status: bytes) -> None:
        """Send the v4 status (or what the protocol makes of it) and end the session."""


def _pump_stdin(streams: CommandStreams, process: Process, close_at_eof: bool) -> None:
    try:
        while chunk := streams.read_stdin():
            process.write_stdin(chunk)
        if close_at_eof and not streams.departed.is_set():  # a departure ends the process
            process.close_stdin()
    except OSError as error:  # the process is gone; its exit status says why
        log.debug("stdin pump ended: %s", error)


def _pump_resize(streams: CommandStreams, process: Process) -> None:
    try:
        while size := streams.next_resize():
            process.resize(size)
    except Exception as error:  # a resize after the process ended is harmless
        log.debug("resize pump ended: %s", error)


def _cancel(process: Process, description: str) -> None:
    """``process.cancel``, on any thread (a connection's reader too): logs, never raises."""
    try:
        process.cancel()
    except Exception as error:
        log.warning("%s: could not end it: %s", description, error)


def serve_command(
    process: Process,
    streams: CommandStreams,
    options: StreamOptions,
    description: str,
    close_stdin_at_eof: bool = True,
) -> None:
    """Run until the process's output ends, then report how it ended.

    A client that leaves first ends the process (``Process.cancel``) as soon as its connection
    closes: waiting for the next write to fail would keep a quiet command (``sleep``, a shell
    waiting for input that never comes) running, with this thread and its sockets, forever.
    """
    settled = threading.Lock()  # taken once: by the end of the output, or to end the process

    def end(reason: str) -> None:
        if settled.acquire(blocking=False):
            log.info("%s: %s; ending it", description, reason)
            _cancel(process, description)

    streams.departed.subscribe(lambda: end("the client left"))
    if options.stdin:
        threading.Thread(
            target=_pump_stdin,
            args=(streams, process, close_stdin_at_eof),
            name="stdin-pump",
            daemon=True,
        ).start()
    if options.tty:
        threading.Thread(
            target=_pump_resize, args=(streams, process), name="resize-pump", daemon=True
        ).start()
    try:
        for kind, data in process.output():
            if (kind is StreamType.STDOUT and options.stdout) or (
                kind is StreamType.STDERR and options.stderr
            ):
                streams.write_output(kind, data)
        code = process.wait()
    except Exception as error:  # the session broke: its process must not outlive it
        log.warning("%s failed: %s", description, error)
        end("its session broke")
        streams.finish(failure_status(f"error executing {description}: {error}"))
        return
    finally:
        settled.acquire(blocking=False)  # ended either way: a later departure changes nothing
        process.close()
    if code:
        detail = f"error executing command {description}, exit code {code}"
        streams.finish(exit_code_status(code, detail))
    else:
        streams.finish(success_status())
