"""A VM's stdout or stderr from Docker's log store, as ``OutputRecord`` values.

Docker keeps every message with its own timestamp; asked with ``timestamps=True`` each message
arrives as ``<RFC3339Nano> <text>``. Without a TTY each message is one multiplexed frame (a
message without its newline is a part of a longer line); with a TTY the bytes come as a raw
stream, so messages are cut at newlines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from reference_shim.backends.base import OutputRecord
from reference_shim.timestamps import parse_rfc3339_nano


def parse_message(message: bytes, stream: str) -> OutputRecord | None:
    stamp, _, rest = message.partition(b" ")
    timestamp = parse_rfc3339_nano(stamp.decode(errors="replace"))
    if not timestamp:
        return None
    partial = not rest.endswith(b"\n")
    data = rest[:-1] if not partial else rest
    if data.endswith(b"\r"):
        data = data[:-1]
    return OutputRecord(timestamp=timestamp, stream=stream, data=data, partial=partial)


def split_raw(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Newline-terminated messages out of a raw byte stream (a TTY's)."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for message in complete:
            yield message + b"\n"
    if buffer:
        yield buffer


class DockerOutput:
    """Iterates one stream's records from ``since`` (ns); ``close`` ends a follow that would
    otherwise block. Docker's own ``since`` counts whole seconds, so the records of that
    second before ``since`` are left out here."""

    def __init__(self, response: Any, stream: str, tty: bool, since: int = 0) -> None:
        self._response = response
        self._stream = stream
        self._tty = tty
        self._since = since

    def __iter__(self) -> Iterator[OutputRecord]:
        messages = split_raw(self._response) if self._tty else iter(self._response)
        for message in messages:
            record = parse_message(message, self._stream)
            if record is not None and record.timestamp >= self._since:
                yield record

    def close(self) -> None:
        self._response.close()


class NoOutput:
    """A stream the VM does not have (stderr of a TTY container, merged into stdout)."""

    def __iter__(self) -> Iterator[OutputRecord]:
        return iter(())

    def close(self) -> None:
        return None
