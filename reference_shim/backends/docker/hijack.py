"""Docker's upgraded ("hijacked") exec and attach connections, read without losing bytes.

docker-py hands back the socket that lies under http.client's buffered reader and reads it
directly. That reader took the ``101 UPGRADED`` headers with one ``recv`` of up to 8 KiB, so
whatever Docker had sent after them by then stays in its buffer, where docker-py never looks:
all the output of a short command that ran before this side read the headers (common on a
loaded machine), or the first frames of a longer one. The exec then "succeeds" with exit code 0
and empty or truncated output (docker/docker-py#3332, #2042, #425). Every read here goes
through that buffered reader, so those bytes come first; writes (stdin) and closing use the
socket itself.
"""

from __future__ import annotations

import contextlib
import io
import socket
import struct
from collections.abc import Iterator
from typing import Any

from reference_shim.errors import BackendError

STDOUT = 1
STDERR = 2
_FRAME_HEADER = struct.Struct(">BxxxL")  # stream, 3 zero bytes, big-endian payload length
_TTY_CHUNK = 64 * 1024


class Hijacked:
    """One upgraded connection: its buffered reader and the socket under it."""

    def __init__(self, reader: io.BufferedIOBase, sock: socket.socket) -> None:
        self.reader = reader
        self.socket = sock

    @classmethod
    def of(cls, upgraded: Any) -> Hijacked:
        """The connection docker-py returns from ``exec_start(socket=True)`` or
        ``attach_socket``: the socket (a ``SocketIO``, or the TLS socket under it) to which
        docker-py ties its HTTP response; that response's reader is the one that read ahead."""
        try:
            reader = upgraded._response.raw._fp.fp
            sock: socket.socket = reader.raw._sock
        except AttributeError as error:
            raise BackendError(
                f"cannot find the HTTP reader of Docker's upgraded connection ({error}); "
                "reading its socket alone could lose output"
            ) from error
        # The API client's timeout must not cut a command that is silent for a while: ExecSync
        # has its own deadline and streaming sessions last as long as their client wants.
        sock.settimeout(None)
        return cls(reader, sock)

    def frames(self, tty: bool) -> Iterator[tuple[int, bytes]]:
        """``(stream, data)`` until Docker closes the connection; see ``read_frames``."""
        return read_frames(self.reader, tty)

    def close(self) -> None:
        """Close the socket, not the reader: a reader blocked in another thread holds the
        reader's lock, and shutting the socket down is what ends that read."""
        with contextlib.suppress(OSError):  # already shut down, or closed by Docker
            self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()


def read_frames(reader: io.BufferedIOBase, tty: bool) -> Iterator[tuple[int, bytes]]:
    """``(stream, data)`` pieces until the end of the stream.

    Without a TTY Docker multiplexes stdout and stderr in frames of an 8-byte header (stream,
    payload length) and the payload; a stream that ends inside a frame lost output, which is
    an error, never a short result. With a TTY the bytes are raw and all count as stdout.
    """
    if tty:
        while chunk := reader.read1(_TTY_CHUNK):
            yield STDOUT, chunk
        return
    while header := reader.read(_FRAME_HEADER.size):
        if len(header) < _FRAME_HEADER.size:
            raise BackendError(
                f"Docker's output stream ended inside a frame header ({len(header)} bytes)"
            )
        stream, length = _FRAME_HEADER.unpack(header)
        payload = reader.read(length)
        if len(payload) < length:
            raise BackendError(
                f"Docker's output stream ended inside a frame: {len(payload)} of {length} bytes"
            )
        if payload:
            yield stream, payload


def collect_output(frames: Iterator[tuple[int, bytes]]) -> tuple[bytes, bytes]:
    """All of stdout and all of stderr; a frame on any other stream is refused, not dropped."""
    collected = {STDOUT: bytearray(), STDERR: bytearray()}
    for stream, data in frames:
        if stream not in collected:
            text = data.decode(errors="replace").strip()
            raise BackendError(f"Docker sent output on unknown stream {stream}: {text}")
        collected[stream] += data
    return bytes(collected[STDOUT]), bytes(collected[STDERR])
