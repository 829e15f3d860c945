"""Image layers as tar archives whose bytes depend on their content alone.

An image's digests are the digests of its layer tars, so the same entries must give the same
bytes on every machine and every Python. ``tarfile`` cannot promise that: the header it writes
changed within a Python minor release (3.11's patch releases stopped writing "0" into the device
fields of regular files), and it reads owners, modes and times from the file system. The POSIX
ustar header is a fixed 512-byte block, so this module writes it itself from the entry alone:
numbers in octal, no user or group names, mtime 0, entries in the order given.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK = 512
REGULAR, SYMLINK, DIRECTORY = b"0", b"2", b"5"


@dataclass(frozen=True)
class Entry:
    """One member of a layer: a file (``content``), a symlink (``target``) or a directory."""

    path: str  # relative, without a leading or trailing slash
    kind: bytes
    mode: int
    content: bytes = b""
    target: str = ""
    uid: int = 0
    gid: int = 0


def directory(path: str, mode: int = 0o755) -> Entry:
    return Entry(path, DIRECTORY, mode)


def regular(path: str, content: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(path, REGULAR, mode, content=content, uid=uid, gid=gid)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, SYMLINK, 0o777, target=target)


def _octal(value: int, width: int) -> bytes:
    """A numeric field: zero-padded octal and a NUL, as ustar wants."""
    text = f"{value:0{width - 1}o}".encode()
    if len(text) > width - 1:
        raise ValueError(f"{value} does not fit a {width}-byte tar field")
    return text + b"\0"


def _text(value: str, width: int) -> bytes:
    data = value.encode()
    if len(data) > width:
        raise ValueError(f"{value!r} is longer than {width} bytes, too long for a ustar header")
    return data.ljust(width, b"\0")


def _split_name(name: str) -> tuple[str, str]:
    """ustar keeps up to 100 bytes of name and 155 of prefix, split at a slash."""
    if len(name.encode()) <= 100:
        return "", name
    prefix, _, rest = name.rpartition("/")
    return prefix, rest


def header(entry: Entry) -> bytes:
    name = entry.path + ("/" if entry.kind == DIRECTORY else "")
    prefix, name = _split_name(name)
    size = len(entry.content) if entry.kind == REGULAR else 0
    fields = [
        _text(name, 100),
        _octal(entry.mode, 8),
        _octal(entry.uid, 8),
        _octal(entry.gid, 8),
        _octal(size, 12),
        _octal(0, 12),  # mtime
        b" " * 8,  # the checksum, computed over the header with this field as spaces
        entry.kind,
        _text(entry.target, 100),
        b"ustar\x0000",
        _text("", 32),  # user name: ids only
        _text("", 32),  # group name
        _text("", 8),  # device major: not a device
        _text("", 8),  # device minor
        _text(prefix, 155),
    ]
    block = b"".join(fields).ljust(BLOCK, b"\0")
    checksum = f"{sum(block):06o}\0 ".encode()
    return block[:148] + checksum + block[156:]


def archive(entries: list[Entry]) -> bytes:
    """The tar of ``entries``, in the order given, ended by two zero blocks."""
    parts = []
    for entry in entries:
        parts.append(header(entry))
        if entry.kind == REGULAR:
            parts.append(entry.content)
            parts.append(b"\0" * (-len(entry.content) % BLOCK))
    parts.append(b"\0" * (2 * BLOCK))
    return b"".join(parts)
