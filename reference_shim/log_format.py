"""The CRI log format, the lines a container's log file holds.

Each line is ``<RFC3339Nano> <stdout|stderr> <P|F> <text>``; a line longer than
``MAX_LINE_BYTES`` is cut into ``P`` parts ending with an ``F`` part, as containerd does. The
shim's log pumps (``reference_shim.cri.logs``) write it, and so does the apple backend's keeper
inside a VM, which stands below the CRI layer: so the format lives beside both.
"""

from __future__ import annotations

from reference_shim.backends.base import OutputRecord
from reference_shim.timestamps import format_rfc3339_nano

MAX_LINE_BYTES = 16 * 1024
STREAMS = ("stdout", "stderr")


def format_lines(record: OutputRecord, max_line: int = MAX_LINE_BYTES) -> list[bytes]:
    stamp = format_rfc3339_nano(record.timestamp).encode()
    chunks = [record.data[i : i + max_line] for i in range(0, len(record.data), max_line)] or [b""]
    lines = []
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        tag = b"P" if record.partial or not last else b"F"
        lines.append(b"%s %s %s %s\n" % (stamp, record.stream.encode(), tag, chunk))
    return lines
