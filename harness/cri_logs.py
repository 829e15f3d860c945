"""The CRI container log format, read from the file the runtime writes.

Each line of ``<pod log_directory>/<container log_path>`` is
``<RFC3339Nano timestamp> <stdout|stderr> <P|F> <text>``: ``F`` ends a line the container
wrote, ``P`` is a piece of a longer line (or the last bytes before the stream closed without a
newline). The kubelet reads these files itself, so the format is part of the contract. Written
by hand: no library parses it, and Python's datetime stops at microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from harness.client import CriClient
from harness.factories import Container
from harness.waiting import DEFAULT_TIMEOUT, wait_for_exit, wait_until

STREAMS = ("stdout", "stderr")
TAGS = ("P", "F")
_TIMESTAMP = re.compile(
    r"(?P<seconds>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})"
)


class LogFormatError(AssertionError):
    """A line of the log file is not in the CRI log format; the message quotes it."""


@dataclass(frozen=True)
class LogRecord:
    """One line of the log file."""

    time_ns: int
    stream: str
    tag: str
    text: str


def parse_timestamp(value: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp with up to 9 fraction digits."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not an RFC3339Nano timestamp")
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    seconds = datetime.fromisoformat(match["seconds"] + zone).timestamp()
    fraction = (match["fraction"] or "").ljust(9, "0")
    return int(seconds) * 10**9 + int(fraction)


def parse_record(line: str) -> LogRecord:
    parts = line.split(" ", 3)
    if len(parts) < 3:
        raise LogFormatError(f"not a CRI log line (too few fields): {line!r}")
    timestamp, stream, tag = parts[:3]
    try:
        time_ns = parse_timestamp(timestamp)
    except ValueError as error:
        raise LogFormatError(f"{error} in log line {line!r}") from None
    if stream not in STREAMS or tag not in TAGS:
        raise LogFormatError(f"stream must be stdout|stderr and tag P|F in log line {line!r}")
    return LogRecord(time_ns, stream, tag, parts[3] if len(parts) == 4 else "")


def log_file(container: Container) -> Path:
    """Where the runtime writes the container's log: the pod's log_directory + log_path."""
    return Path(container.pod.config.log_directory) / container.config.log_path


def read_records(path: Path) -> list[LogRecord]:
    """Every complete line of the file, parsed; a missing file reads as no records."""
    try:
        content = path.read_text()
    except FileNotFoundError:
        return []
    return [parse_record(line) for line in content.split("\n")[:-1]]


def assemble(records: list[LogRecord], stream: str = "stdout") -> list[str]:
    """The lines the container wrote on ``stream``: ``P`` pieces joined up to their ``F``.

    Trailing pieces without an ``F`` (output that ended without a newline) form a last line.
    """
    lines: list[str] = []
    pending = ""
    for record in records:
        if record.stream != stream:
            continue
        pending += record.text
        if record.tag == "F":
            lines.append(pending)
            pending = ""
    if pending:
        lines.append(pending)
    return lines


def wait_for_records(
    path: Path,
    accept: Callable[[list[LogRecord]], bool],
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[LogRecord]:
    return wait_until(lambda: read_records(path), accept, what=f"{what} in {path}", timeout=timeout)


def output_lines(cri: CriClient, container: Container, stream: str = "stdout") -> list[str]:
    """What the container wrote on ``stream``, once it has exited."""
    wait_for_exit(cri, container.id)
    return assemble(read_records(log_file(container)), stream)


def wait_for_output(container: Container, count: int, stream: str = "stdout") -> list[str]:
    """The first ``count`` complete lines a still running container wrote on ``stream``."""
    records = wait_for_records(
        log_file(container),
        lambda found: sum(1 for r in found if r.stream == stream and r.tag == "F") >= count,
        what=f"{count} {stream} line(s) of container {container.name}",
    )
    return assemble(records, stream)[:count]


def wait_for_line(
    container: Container, line: str, stream: str = "stdout", timeout: float = DEFAULT_TIMEOUT
) -> list[str]:
    """The lines a (maybe still running) container wrote on ``stream``, once ``line`` is one."""
    records = wait_for_records(
        log_file(container),
        lambda found: line in assemble(found, stream),
        what=f"{line!r} on {stream} of container {container.name}",
        timeout=timeout,
    )
    return assemble(records, stream)
