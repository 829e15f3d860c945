"""Container logs in the CRI log format (``reference_shim.log_format``), written by the shim.

Each line's timestamp is the one the backend recorded, so after a shim restart the pump resumes
after the last timestamp already in the file (or in the store, when the file was rotated away)
and writes no line twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from reference_shim.backends.base import OutputRecord, OutputStream, VmBackend
from reference_shim.errors import FailedPrecondition, NotFound
from reference_shim.log_format import STREAMS, format_lines
from reference_shim.state.store import Store
from reference_shim.timestamps import parse_rfc3339_nano

log = logging.getLogger(__name__)

_TAIL_BYTES = 256 * 1024
_PROGRESS_EVERY_S = 1.0


@dataclass(frozen=True)
class Progress:
    """How far a stream got: the newest timestamp written, and how many bytes of text carry it.

    Backends give every part of one long line the same timestamp (Docker does), so the
    timestamp alone cannot tell which parts are already written; the byte count can.
    """

    timestamp: int = 0
    bytes_at_timestamp: int = 0

    def after(self, record: OutputRecord) -> Progress:
        if record.timestamp == self.timestamp:
            return Progress(self.timestamp, self.bytes_at_timestamp + len(record.data))
        return Progress(record.timestamp, len(record.data))


def progress_in_file(path: Path) -> dict[str, Progress]:
    """Each stream's progress as the last lines of a CRI log file show it."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - _TAIL_BYTES))
            tail = file.read()
    except FileNotFoundError:
        return {}
    found: dict[str, Progress] = {}
    for line in tail.split(b"\n"):
        fields = line.split(b" ", 3)
        if len(fields) < 4 or fields[1].decode(errors="replace") not in STREAMS:
            continue
        stamp = parse_rfc3339_nano(fields[0].decode(errors="replace"))
        stream = fields[1].decode()
        current = found.get(stream, Progress())
        if stamp >= current.timestamp:
            record = OutputRecord(stamp, stream, fields[3], partial=False)
            found[stream] = current.after(record)
    return found


class AlreadyWritten:
    """Drops what a copier before a restart wrote: records older than its progress, and the
    first ``bytes_at_timestamp`` bytes of the records that carry its last timestamp."""

    def __init__(self, done: Progress) -> None:
        self._timestamp = done.timestamp
        self._skip = done.bytes_at_timestamp

    def strip(self, record: OutputRecord) -> OutputRecord | None:
        if record.timestamp < self._timestamp:
            return None
        if record.timestamp > self._timestamp or self._skip == 0:
            return record
        if len(record.data) <= self._skip:
            self._skip -= len(record.data)
            return None
        rest = replace(record, data=record.data[self._skip :])
        self._skip = 0
        return rest


class CriLogFile:
    """One container's log file; every line goes out in one write so lines never interleave."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd = self._open()

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)

    def write(self, record: OutputRecord) -> None:
        lines = format_lines(record)
        with self._lock:
            for line in lines:
                os.write(self._fd, line)

    def reopen(self) -> None:
        """Start a new file at the path (after log rotation renamed the old one)."""
        with self._lock:
            os.close(self._fd)
            self._fd = self._open()

    def close(self) -> None:
        with self._lock:
            os.close(self._fd)


class LogPump:
    """Copies one VM's stdout and stderr into a CRI log file until the VM exits."""

    def __init__(
        self, backend: VmBackend, store: Store, container_id: str, vm_id: str, path: Path
    ) -> None:
        self.container_id = container_id
        self._backend = backend
        self._store = store
        self._vm_id = vm_id
        self.file = CriLogFile(path)
        self._streams: dict[str, OutputStream] = {}
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()

    def start(self) -> None:
        in_file = progress_in_file(self.file.path)
        for stream in STREAMS:
            timestamp, size, done = self._store.log_progress(self.container_id, stream)
            if done:
                continue
            resume = max(
                Progress(timestamp, size),
                in_file.get(stream, Progress()),
                key=lambda p: (p.timestamp, p.bytes_at_timestamp),
            )
            thread = threading.Thread(
                target=self._copy, args=(stream, resume), daemon=True,
                name=f"logs-{self.container_id[:12]}-{stream}",
            )  # fmt: skip
            self._threads.append(thread)
            thread.start()

    def _copy(self, stream: str, resume: Progress) -> None:
        """Write every record not yet written until the workload exits; remember progress now
        and then. Once the follow ends, read what is stored once more: a backend may store the
        last message of a workload that exits at once after its follower ended (Docker's
        json-file follow can miss a final partial line)."""
        try:
            progress = self._write_from(stream, resume)
            if not self._closing.is_set():
                progress = self._write_from(stream, progress)
        except (NotFound, FailedPrecondition) as gone:
            # The VM is being removed (RemoveContainer, RemovePodSandbox): its output is over.
            log.debug("output of container %s ended with its VM: %s", self.container_id, gone)
            return
        except Exception:  # a log copier must never take the shim down
            if not self._closing.is_set():
                log.exception("copying %s of container %s failed", stream, self.container_id)
            return
        if not self._closing.is_set():
            self._save(stream, progress, done=True)

    def _write_from(self, stream: str, resume: Progress) -> Progress:
        """Copy one read of the stream from ``resume``; how far it got."""
        progress, saved_at = resume, time.monotonic()
        output = self._backend.read_output(self._vm_id, stream, since=resume.timestamp)
        self._streams[stream] = output
        try:
            already_written = AlreadyWritten(resume)
            for record in output:
                remaining = already_written.strip(record)
                if remaining is None:
                    continue
                self.file.write(remaining)
                progress = progress.after(remaining)
                if time.monotonic() - saved_at > _PROGRESS_EVERY_S:
                    self._save(stream, progress, done=False)
                    saved_at = time.monotonic()
        finally:
            self._streams.pop(stream, None)
        return progress

    def _save(self, stream: str, progress: Progress, done: bool) -> None:
        self._store.save_log_progress(
            self.container_id, stream, progress.timestamp, progress.bytes_at_timestamp, done
        )

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def close(self) -> None:
        """Stop copying (shim shutdown); a later pump resumes where this one stopped."""
        self._closing.set()
        for output in list(self._streams.values()):
            output.close()
        self.wait(2.0)
        self.file.close()
