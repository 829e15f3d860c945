"""A container's output as the keeper recorded it, followed until the workload has exited."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from reference_shim.backends.apple.keeper import KeeperFiles
from reference_shim.backends.base import OutputRecord
from reference_shim.timestamps import parse_rfc3339_nano

_POLL_S = 0.1
_READ_BYTES = 256 * 1024


def parse_line(line: bytes) -> OutputRecord | None:
    """One CRI log line (without its newline) as a record; None for anything else."""
    fields = line.split(b" ", 3)
    if len(fields) != 4 or fields[2] not in {b"P", b"F"}:
        return None
    timestamp = parse_rfc3339_nano(fields[0].decode(errors="replace"))
    stream = fields[1].decode(errors="replace")
    if not timestamp or stream not in {"stdout", "stderr"}:
        return None
    return OutputRecord(timestamp, stream, fields[3], partial=fields[2] == b"P")


class RecordedOutput:
    """Records of ``streams`` from ``since`` (ns, inclusive) in the order the keeper wrote
    them; ends when the keeper is done."""

    def __init__(self, files: KeeperFiles, streams: frozenset[str], since: int) -> None:
        self._files, self._streams, self._since = files, streams, since
        self._closed = threading.Event()

    def _finished(self) -> bool:
        """Nothing more will be written: the exit is recorded, or no keeper is left to write."""
        return self._files.exit.exists() or not (
            self._files.folder.exists() and self._files.keeper_alive()
        )

    def __iter__(self) -> Iterator[OutputRecord]:
        offset, pending = 0, b""
        while not self._closed.is_set():
            finished = self._finished()  # before reading: what follows the exit is complete
            try:
                with self._files.output.open("rb") as file:
                    file.seek(offset)
                    chunk = file.read(_READ_BYTES)
            except FileNotFoundError:
                chunk = b""
            offset += len(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                record = parse_line(line)
                if record and record.stream in self._streams and record.timestamp >= self._since:
                    yield record
            if not chunk:
                if finished:
                    return
                self._closed.wait(_POLL_S)

    def close(self) -> None:
        self._closed.set()
