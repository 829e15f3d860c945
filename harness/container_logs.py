"""Reading container log files in the CRI log format, as the kubelet does.

Each line of a CRI log file is ``<RFC3339Nano time> <stream> <P|F> <text>``: ``P`` marks a
partial line continued by the next entry, ``F`` a full one. No library parses this format in
Python, so this small reader does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.factories import Container
from harness.waiting import wait_until

STREAMS = ("stdout", "stderr")


class LogFormatError(AssertionError):
    """A line of the log file does not follow the CRI log format."""


@dataclass(frozen=True)
class LogLine:
    time: str
    stream: str
    text: str


def log_path(container: Container) -> Path:
    """Where the runtime must write the container's log: pod log_directory / log_path."""
    return Path(container.pod.config.log_directory) / container.config.log_path


def parse(content: str) -> list[LogLine]:
    """Whole lines, with partial entries joined to the entry that completes them."""
    lines: list[LogLine] = []
    pending: dict[str, str] = {}
    for number, raw in enumerate(content.split("\n")[:-1], start=1):
        parts = raw.split(" ", 3)
        if len(parts) < 3 or parts[1] not in STREAMS or parts[2] not in ("P", "F"):
            raise LogFormatError(
                f"log line {number} is not `<time> <stream> <P|F> <text>`: {raw!r}"
            )
        time, stream, tag = parts[:3]
        text = pending.pop(stream, "") + (parts[3] if len(parts) == 4 else "")
        if tag == "P":
            pending[stream] = text
        else:
            lines.append(LogLine(time, stream, text))
    return lines


def read_lines(container: Container) -> list[LogLine]:
    path = log_path(container)
    return parse(path.read_text()) if path.exists() else []


def texts(container: Container, stream: str | None = None) -> list[str]:
    return [line.text for line in read_lines(container) if stream in (None, line.stream)]


def wait_for_text(container: Container, wanted: str, timeout: float = 30) -> list[str]:
    """The container's log lines once one of them is ``wanted``."""
    return wait_until(
        lambda: texts(container),
        lambda lines: wanted in lines,
        what=f"{wanted!r} in the log of container {container.name}",
        timeout=timeout,
    )
