"""Nanosecond timestamps <-> RFC 3339 text with nanoseconds, as Go's time.RFC3339Nano writes it.

Python's datetime stops at microseconds; the CRI log format and Docker both carry nanoseconds,
so these are done by hand. Not part of ``cri/``: the backends read Docker's and Apple's times
with them too, and backends never import the CRI layer.
"""

from __future__ import annotations

import calendar
import re
import time

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$"
)


def now_ns() -> int:
    return time.time_ns()


def format_rfc3339_nano(ns: int) -> str:
    """UTC, trailing zeros of the fraction dropped (no dot at all when it is zero)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


def parse_rfc3339_nano(text: str) -> int:
    """ns since the epoch; 0 for Go's zero time (year 1) and for text that is not RFC 3339."""
    match = _RFC3339.match(text.strip())
    if not match:
        return 0
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if int(year) < 1970:
        return 0
    seconds = calendar.timegm(
        (int(year), int(month), int(day), int(hour), int(minute), int(second), 0, 0, 0)
    )
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    nanos = int((fraction or "0").ljust(9, "0"))
    return seconds * 1_000_000_000 + nanos
