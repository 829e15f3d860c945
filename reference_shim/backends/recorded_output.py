"""A workload's output as CRI log lines in a file: written as it comes, read back as records.

A backend whose workloads' output reaches the host as byte streams (the apple backend's keeper,
the microvm backend's virtio-serial ports) stamps it when read, cuts it into CRI log lines
(``<RFC3339Nano> <stream> <P|F> <text>``) in one file per VM, and follows that file for
``read_output``, until the workload has exited.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference_shim.backends.base import OutputRecord
from reference_shim.log_format import MAX_LINE_BYTES, format_lines
from reference_shim.timestamps import now_ns, parse_rfc3339_nano

_POLL_S = 0.1
_READ_BYTES = 256 * 1024


@dataclass(frozen=True)
class RecordedFiles:
    """A workload's folder in a backend's state: its output as CRI log lines, its exit as
    JSON once known, and when it started (ns since the epoch)."""

    folder: Path

    @property
    def output(self) -> Path:
        return self.folder / "output.log"

    @property
    def exit(self) -> Path:
        return self.folder / "exit.json"

    @property
    def started(self) -> Path:
        return self.folder / "started_at"

    def exit_status(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.exit.read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def started_at(self) -> int:
        try:
            return int(self.started.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def write_atomically(self, path: Path, text: str) -> None:
        partial = path.with_suffix(".partial")
        partial.write_text(text)
        partial.replace(path)


class LineWriter:
    """Cuts one stream's bytes into CRI log lines and appends them to the output file."""

    def __init__(self, fd: int, lock: threading.Lock, stream: str) -> None:
        self._fd, self._lock, self._stream = fd, lock, stream
        self._buffer = b""

    def _write(self, data: bytes, partial: bool) -> None:
        record = OutputRecord(timestamp=now_ns(), stream=self._stream, data=data, partial=partial)
        with self._lock:
            for line in format_lines(record):
                os.write(self._fd, line)

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            for start in range(0, max(len(line), 1), MAX_LINE_BYTES):
                self._write(
                    line[start : start + MAX_LINE_BYTES], start + MAX_LINE_BYTES < len(line)
                )
        while len(self._buffer) >= MAX_LINE_BYTES:
            self._write(self._buffer[:MAX_LINE_BYTES], partial=True)
            self._buffer = self._buffer[MAX_LINE_BYTES:]

    def finish(self) -> None:
        """The stream ended: an unterminated last line stays partial, as containerd writes it."""
        if self._buffer:
            self._write(self._buffer, partial=True)
            self._buffer = b""


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
    """Records of ``streams`` from ``since`` (ns, inclusive) in the order they were written
    to ``path``; ends once ``finished`` says nothing more will be written."""

    def __init__(
        self, path: Path, finished: Callable[[], bool], streams: frozenset[str], since: int
    ) -> None:
        self._path, self._finished = path, finished
        self._streams, self._since = streams, since
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[OutputRecord]:
        offset, pending = 0, b""
        while not self._closed.is_set():
            finished = self._finished()  # before reading: what follows the exit is complete
            try:
                with self._path.open("rb") as file:
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
