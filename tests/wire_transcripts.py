"""Byte transcripts of streaming sessions with a real runtime, and what a replay compares.

A transcript is what crossed a loopback proxy between a client and containerd's streaming
server (``tests/transcripts/record.py`` records them): the client's bytes and the server's,
in the order they arrived. A replay sends the client's bytes to the shim's streaming server
and compares what it answers with what containerd answered.

The comparison reads the server's bytes with the parsers here, written from the SPDY/3.1 and
RFC 6455 framing rules and sharing no code with ``kube_streaming`` (the shim's own framing):
a framing bug there must not be able to agree with itself. What legitimately differs between
two servers is normalised away, and nothing else:

- HTTP heads: only the status and the headers of the upgrade (``Connection``, ``Upgrade``,
  ``X-Stream-Protocol-Version``, ``Sec-WebSocket-Accept``, ``Sec-WebSocket-Protocol``) count;
  ``Date``, ``Server``, header order and case do not.
- SPDY: SETTINGS, WINDOW_UPDATE, PING and GOAWAY are session upkeep (Go's spdystream keeps no
  windows; the shim does), so they are left out. Header blocks are compared inflated (each
  zlib compressor writes its own bytes). A stream the server ends with RST_STREAM CANCEL
  (containerd, at the session's end) counts as ended, as one it half-closes with FIN (the
  shim): to a client both are the end of that stream. Each stream's DATA is joined, since
  output is cut into frames wherever a read returned, and streams are compared apart, since
  their interleaving is timing. Kept: which streams got a reply and with what headers, every
  data byte, which streams were ended, any other reset or control frame.
- WebSocket: each channel's payloads are joined (same reason); ping and pong are upkeep.
  Kept: the channel byte of every payload, every payload byte, the channels announced with an
  empty message, frames unmasked (a server must not mask), the close code.
- The v4 status on the error stream is compared as JSON without its ``message``, which is
  free text (containerd names the command and runc's words; the shim its own).

On the client's side one thing changes: the request line names the shim's token instead of
containerd's. The client's bytes are otherwise sent as recorded (its WebSocket masks, its
compressed SPDY headers), each chunk once the server has got as far as containerd had when the
client sent it (``progress``), so the order of the recording holds whatever the timing.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# The one piece taken from the shim's side: containerd's header blocks inflate only with the
# right dictionary, so a wrong copy fails every SPDY replay rather than agreeing with itself.
from kube_streaming.spdy.dictionary import HEADER_DICTIONARY

TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"

Kind = Literal["exec", "attach", "portforward"]
Transport = Literal["spdy", "websocket"]

PROGRAM = ["sh", "-c", "read line; echo out:$line; echo err:$line >&2; sleep 1; exit 3"]
"""What exec runs and attach attaches to: reads a line, answers on stdout and stderr, then
exits 3 a second later (containerd 1.6 may drop an attach's stderr written as stdout closes)."""
STDIN = b"hello\n"
PORT = 8080
POD_SERVER = ["nc", "-ll", "-p", str(PORT), "-e", "sh", "-c", 'read l; echo "pong:$l"']
"""Listens on ``PORT`` in the pod; answers each connection's first line and closes it."""
PING = b"ping\n"
PONG = b"pong:ping\n"
STEP_TIMEOUT = 5.0
"""How long a replay waits for the server to get as far as the recorded one had."""
REPLAY_TIMEOUT = 15.0


@dataclass(frozen=True)
class Case:
    kind: Kind
    transport: Transport
    tty: bool = False

    @property
    def name(self) -> str:
        return f"{self.kind}{'-tty' if self.tty else ''}-{self.transport}"

    @property
    def path(self) -> Path:
        return TRANSCRIPTS / f"{self.name}.json"


KINDS: tuple[tuple[Kind, bool], ...] = (
    ("exec", False),
    ("attach", False),
    ("attach", True),
    ("portforward", False),
)
TRANSPORTS: tuple[Transport, ...] = ("spdy", "websocket")
CASES = [Case(kind, transport, tty) for transport in TRANSPORTS for kind, tty in KINDS]


@dataclass
class Transcript:
    """One recorded session; ``events`` are (``client`` or ``server``, bytes) in order, and
    (side, b"") where that side closed its end of the connection."""

    case: Case
    recorded_from: str
    events: list[tuple[str, bytes]] = field(default_factory=list)

    def save(self) -> None:
        document = {
            "case": self.case.name,
            "recorded_from": self.recorded_from,
            # latin-1 keeps every byte and leaves HTTP and JSON readable in the file
            "events": [[side, data.decode("latin-1")] for side, data in self.events],
        }
        self.case.path.write_text(json.dumps(document, indent=1) + "\n")

    @classmethod
    def load(cls, case: Case) -> Transcript:
        document = json.loads(case.path.read_text())
        events = [(side, text.encode("latin-1")) for side, text in document["events"]]
        return cls(case, document["recorded_from"], events)

    def sent_by(self, side: str) -> bytes:
        return b"".join(data for who, data in self.events if who == side)


# -- reading the server's side, independently of kube_streaming ---------------------------

_UPGRADE_HEADERS = {
    "connection",
    "upgrade",
    "x-stream-protocol-version",
    "sec-websocket-accept",
    "sec-websocket-protocol",
}
_TOKEN_HEADERS = {"connection", "upgrade"}
"""Headers whose values are case-insensitive tokens (RFC 9110 7.8)."""


def split_head(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The HTTP response head as the comparison sees it, and the bytes after it."""
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name in _UPGRADE_HEADERS:
            value = value.strip().lower() if name in _TOKEN_HEADERS else value.strip()
            headers.setdefault(name, []).append(value)
    status = int(status_line.split(" ")[1])
    return {"status": status, "headers": dict(sorted(headers.items()))}, rest


def _status_without_message(payload: bytes) -> Any:
    try:
        document = json.loads(payload)
    except ValueError:
        return payload.decode("latin-1")
    if isinstance(document, dict):
        document.pop("message", None)
        for cause in (document.get("details") or {}).get("causes") or []:
            if "reason" not in cause:  # an internal error's only cause repeats the message
                cause.pop("message", None)
    return document


def _header_block(block: bytes, inflater: Any) -> list[list[str]]:
    raw = inflater.decompress(block)
    (count,) = struct.unpack_from(">I", raw)
    offset, pairs = 4, []
    for _ in range(2 * count):
        (length,) = struct.unpack_from(">I", raw, offset)
        pairs.append(raw[offset + 4 : offset + 4 + length].decode())
        offset += 4 + length
    return sorted([name, value] for name, value in zip(pairs[::2], pairs[1::2], strict=True))


def spdy_frames(data: bytes) -> tuple[list[tuple[int, int, int, bytes]], int]:
    """The whole frames in ``data`` as (control type or 0 for DATA, stream id, flags,
    payload), and how many bytes they took. A control frame's stream id is its first word."""
    frames, offset = [], 0
    while offset + 8 <= len(data):
        word, flags_length = struct.unpack_from(">II", data, offset)
        flags, length = flags_length >> 24, flags_length & 0xFFFFFF
        if offset + 8 + length > len(data):
            break
        payload = data[offset + 8 : offset + 8 + length]
        offset += 8 + length
        if word & 0x80000000:  # control frame: version 3, then the type
            assert word >> 16 & 0x7FFF == 3, f"control frame of version {word >> 16 & 0x7FFF}"
            first = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF if payload else 0
            frames.append((word & 0xFFFF, first, flags, payload))
        else:
            frames.append((0, word & 0x7FFFFFFF, flags, payload))
    return frames, offset


def websocket_frames(data: bytes) -> tuple[list[tuple[int, bool, bytes]], int]:
    """The whole frames in ``data`` as (opcode, masked, payload), and how many bytes they took
    (a masked frame's payload is left masked: a server must never send one)."""
    frames, offset = [], 0
    while offset + 2 <= len(data):
        first, second = data[offset], data[offset + 1]
        length, start = second & 0x7F, offset + 2
        if length == 126:
            length, start = int.from_bytes(data[start : start + 2]), start + 2
        elif length == 127:
            length, start = int.from_bytes(data[start : start + 8]), start + 8
        start += 4 if second & 0x80 else 0
        if start + length > len(data):
            break
        frames.append((first & 0x0F, bool(second & 0x80), data[start : start + length]))
        offset = start + length
    return frames, offset


_UPKEEP = {4, 6, 7, 9}
"""SETTINGS, PING, GOAWAY, WINDOW_UPDATE."""
_SYN_REPLY, _RST_STREAM, _CANCEL = 2, 3, 5


def spdy_summary(data: bytes) -> dict[str, Any]:
    """What a SPDY/3.1 server said, per stream (see the module's docstring)."""
    frames, used = spdy_frames(data)
    assert used == len(data), f"{len(data) - used} bytes after the last whole frame"
    inflater = zlib.decompressobj(zdict=HEADER_DICTIONARY)
    streams: dict[int, dict[str, Any]] = {}
    for kind, stream_id, flags, payload in frames:
        if kind in _UPKEEP:
            continue
        stream = streams.setdefault(stream_id, {"data": b"", "ended": False})
        if kind == 0:
            stream["data"] += payload
        elif kind == _SYN_REPLY:
            stream["reply"] = _header_block(payload[4:], inflater)
        elif kind == _RST_STREAM and struct.unpack_from(">I", payload, 4)[0] == _CANCEL:
            stream["ended"] = True  # at the session's end: as good as a FIN to the client
        else:
            stream.setdefault("other", []).append([kind, payload.hex()])
        if flags & 0x01:
            stream["ended"] = True
    return {str(stream_id): stream for stream_id, stream in sorted(streams.items())}


def websocket_summary(data: bytes) -> dict[str, Any]:
    """What a WebSocket server said, per channel (see the module's docstring)."""
    frames, used = websocket_frames(data)
    assert used == len(data), f"{len(data) - used} bytes after the last whole frame"
    summary: dict[str, Any] = {"announced": [], "close": None}
    for opcode, masked, payload in frames:
        assert not masked, "the server masked a frame (RFC 6455 5.1 forbids it)"
        assert opcode != 0x0, "a fragmented message: no peer under test fragments"
        if opcode == 0x8:
            summary["close"] = int.from_bytes(payload[:2]) if len(payload) >= 2 else 1005
        elif opcode in (0x1, 0x2) and len(payload) == 1:
            summary["announced"].append(payload[0])
        elif opcode in (0x1, 0x2):
            key = str(payload[0])
            summary[key] = summary.get(key, b"") + payload[1:]
    return summary


def progress(case: Case, server_bytes: bytes) -> int:
    """How far a server's answer has got: its head, then each stream (or channel) replied
    to, given data and ended. Counting bytes would not do: the status message is free text.
    A replay waits for the recorded progress before the client's next chunk, so it keeps the
    recording's order whatever the timing."""
    head_end = server_bytes.find(b"\r\n\r\n")
    if head_end < 0:
        return 0
    body = server_bytes[head_end + 4 :]
    seen: set[tuple[str, int]] = set()
    if case.transport == "spdy":
        for kind, stream_id, flags, payload in spdy_frames(body)[0]:
            if kind == _SYN_REPLY:
                seen.add(("reply", stream_id))
            elif kind == 0 and payload:
                seen.add(("data", stream_id))
            if flags & 0x01 or kind == _RST_STREAM:
                seen.add(("end", stream_id))
    else:
        for opcode, _, payload in websocket_frames(body)[0]:
            if opcode == 0x8:
                seen.add(("close", 0))
            elif payload:
                seen.add(("data" if len(payload) > 1 else "announced", payload[0]))
    return 1 + len(seen)


def server_summary(case: Case, server_bytes: bytes) -> dict[str, Any]:
    """The head and body of a server's answer, normalised for comparison."""
    head, rest = split_head(server_bytes)
    if case.transport == "spdy":
        body = spdy_summary(rest)
        status = body.get("1")  # the error stream: clients open it first (client-go too)
    else:
        body = websocket_summary(rest)
        status = body
    if case.kind != "portforward" and status is not None:
        key = "data" if case.transport == "spdy" else "3"
        if key in status:
            status[key] = _status_without_message(status[key])
    return {"head": head, "body": body}


def replay(case: Case, transcript: Transcript, address: tuple[str, int], path: str) -> bytes:
    """Send the recorded client's bytes to ``address`` (its request aimed at ``path``), each
    chunk (or its close) once the server got as far as the recorded one had; the server's
    bytes, up to its close or ``REPLAY_TIMEOUT`` after the client's last chunk."""
    sock = socket.create_connection(address, timeout=REPLAY_TIMEOUT)
    received = bytearray()
    done = threading.Event()

    def read() -> None:
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                received.extend(chunk)
        done.set()

    threading.Thread(target=read, daemon=True).start()
    recorded = b""
    first = True
    for side, data in transcript.events:
        if side == "server":
            recorded += data
            continue
        if first:
            data = re.sub(rb"^(\w+) \S+", lambda m: m.group(1) + b" " + path.encode(), data)
            first = False
        wanted, deadline = progress(case, recorded), time.monotonic() + STEP_TIMEOUT
        while progress(case, bytes(received)) < wanted and time.monotonic() < deadline:
            time.sleep(0.01)
        with contextlib.suppress(OSError):
            if data:
                sock.sendall(data)
            else:  # the recorded client closed its end here
                sock.shutdown(socket.SHUT_WR)
    done.wait(REPLAY_TIMEOUT)
    sock.close()
    return bytes(received)
