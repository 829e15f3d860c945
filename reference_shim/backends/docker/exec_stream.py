"""Reading the stream of a Docker exec or attach without losing its first bytes.

docker-py hands back the raw socket of the upgraded connection, but the HTTP client read the
response head through a buffered reader, which may already hold the first output frames (a
command that prints at once, on a busy host): reading the raw socket, as docker-py does, loses
them (docker/docker-py#3332, #425; seen here as an empty stdout in about one of a thousand
concurrent execs). The stream is read through that buffered reader instead, the one docker-py
takes the socket from (``_get_raw_response_socket``: ``response.raw._fp.fp.raw``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from docker.utils.socket import STDERR, STDOUT

_HEADER = 8
_READ_BYTES = 64 * 1024


def buffered_reader(hijacked: Any) -> io.BufferedReader:
    """The reader in front of the socket docker-py returned for ``socket=True``."""
    reader: io.BufferedReader = hijacked._response.raw._fp.fp
    return reader


def frames(reader: io.BufferedReader, tty: bool) -> Iterator[tuple[int, bytes]]:
    """``(STDOUT or STDERR, data)`` until the stream ends: raw bytes with a terminal, else
    Docker's frames (a byte for the stream, three zeros, a big-endian 32-bit length)."""
    if tty:
        while chunk := reader.read1(_READ_BYTES):
            yield STDOUT, chunk
        return
    while len(header := reader.read(_HEADER)) == _HEADER:
        size = int.from_bytes(header[4:], "big")
        data = reader.read(size)
        if data:
            yield (STDERR if header[0] == STDERR else STDOUT), data
        if len(data) < size:
            return


def close(hijacked: Any) -> None:
    """Close the stream for good: its reader, docker-py's wrapper and the socket under them
    (closing only the wrapper leaves the socket to the garbage collector)."""
    sock = getattr(hijacked, "_sock", None)  # gone from the wrapper once it is closed
    buffered_reader(hijacked).close()
    hijacked.close()
    if sock is not None:
        sock.close()


def read_all(hijacked: Any) -> tuple[bytes, bytes]:
    """All of stdout and stderr of a stream without a terminal, then closed."""
    output: dict[int, list[bytes]] = {STDOUT: [], STDERR: []}
    try:
        for stream, data in frames(buffered_reader(hijacked), tty=False):
            output[stream].append(data)
    finally:
        close(hijacked)
    return b"".join(output[STDOUT]), b"".join(output[STDERR])
