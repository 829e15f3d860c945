"""SPDY/3.1 frames: their in-memory form and their wire encoding.

Written by hand because no maintained Python library speaks SPDY any more, yet kubelet,
crictl and every CRI runtime's streaming server still use it for exec, attach and port
forwarding (Go's ``moby/spdystream``). Only what those peers use is here: every control frame
of SPDY/3.1 except CREDENTIAL, data frames, and header blocks compressed with zlib primed with
the SPDY/3 dictionary (one compression context per direction for the whole connection).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from kube_streaming.spdy.dictionary import HEADER_DICTIONARY

VERSION = 3
MAX_DATA_LENGTH = (1 << 24) - 1
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
_CONTROL_BIT = 0x8000
_STREAM_ID_MASK = 0x7FFFFFFF

HeaderList = tuple[tuple[str, str], ...]
"""Header name/value pairs; names are lowercase, a name may repeat."""


class FrameType(IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9


class SettingId(IntEnum):
    MAX_CONCURRENT_STREAMS = 4
    INITIAL_WINDOW_SIZE = 7


class SpdyProtocolError(Exception):
    """The peer sent bytes that are not valid SPDY/3.1."""


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: HeaderList
    associated_stream_id: int = 0
    priority: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: HeaderList
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    values: tuple[tuple[int, int], ...]
    """(setting id, value) pairs; per-setting persistence flags are not used by any peer."""
    clear: bool = False


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True)
class Headers:
    stream_id: int
    headers: HeaderList
    fin: bool = False


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    """0 for the session window (SPDY/3.1), else the stream's window."""
    delta: int


@dataclass(frozen=True)
class UnknownControl:
    """A control frame type this codec does not know; SPDY says to ignore it."""

    frame_type: int


Frame = (
    DataFrame | SynStream | SynReply | RstStream | Settings | Ping | GoAway | Headers
    | WindowUpdate | UnknownControl
)  # fmt: skip


def header_value(headers: HeaderList, name: str) -> str | None:
    """The first value of ``name`` (case-insensitive), as Go's ``http.Header.Get`` returns it."""
    wanted = name.lower()
    return next((value for key, value in headers if key == wanted), None)


def encode_header_block(headers: HeaderList) -> bytes:
    """The uncompressed block: repeated names become one entry with NUL-separated values."""
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    parts = [struct.pack(">I", len(grouped))]
    for name, values in grouped.items():
        raw_name, raw_value = name.encode(), "\x00".join(values).encode()
        parts += [struct.pack(">I", len(raw_name)), raw_name]
        parts += [struct.pack(">I", len(raw_value)), raw_value]
    return b"".join(parts)


def decode_header_block(block: bytes) -> HeaderList:
    try:
        (count,) = struct.unpack_from(">I", block)
        offset, pairs = 4, []
        for _ in range(count):
            name, offset = _length_prefixed(block, offset)
            value, offset = _length_prefixed(block, offset)
            if name != name.lower():
                raise SpdyProtocolError(f"header name {name!r} is not lowercase")
            pairs += [(name, part) for part in value.split("\x00")]
    except (struct.error, UnicodeDecodeError) as error:
        raise SpdyProtocolError(f"malformed header block: {error}") from None
    if offset != len(block):
        raise SpdyProtocolError(f"{len(block) - offset} stray bytes after the header block")
    return tuple(pairs)


def _length_prefixed(block: bytes, offset: int) -> tuple[str, int]:
    (length,) = struct.unpack_from(">I", block, offset)
    start, end = offset + 4, offset + 4 + length
    if end > len(block):
        raise SpdyProtocolError("header block truncated")
    return block[start:end].decode(), end


class FrameEncoder:
    """Serialises frames for one direction of one connection (it owns the compressor)."""

    def __init__(self) -> None:
        self._compressor = zlib.compressobj(
            9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, HEADER_DICTIONARY
        )

    def compress_headers(self, headers: HeaderList) -> bytes:
        block = encode_header_block(headers)
        return self._compressor.compress(block) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        match frame:
            case DataFrame(stream_id, data, fin):
                if len(data) > MAX_DATA_LENGTH:
                    raise ValueError(f"a data frame holds at most {MAX_DATA_LENGTH} bytes")
                flags = FLAG_FIN if fin else 0
                return struct.pack(">II", _stream(stream_id), flags << 24 | len(data)) + data
            case SynStream(stream_id, headers, associated, priority, fin, unidirectional):
                flags = (FLAG_FIN if fin else 0) | (FLAG_UNIDIRECTIONAL if unidirectional else 0)
                body = struct.pack(
                    ">IIBB",
                    _stream(stream_id),
                    associated & _STREAM_ID_MASK,
                    (priority & 0x7) << 5,
                    0,
                )
                return _control(FrameType.SYN_STREAM, flags, body + self.compress_headers(headers))
            case SynReply(stream_id, headers, fin) | Headers(stream_id, headers, fin):
                kind = FrameType.SYN_REPLY if isinstance(frame, SynReply) else FrameType.HEADERS
                body = struct.pack(">I", _stream(stream_id)) + self.compress_headers(headers)
                return _control(kind, FLAG_FIN if fin else 0, body)
            case RstStream(stream_id, status):
                body = struct.pack(">II", _stream(stream_id), status)
                return _control(FrameType.RST_STREAM, 0, body)
            case Settings(values, clear):
                body = struct.pack(">I", len(values)) + b"".join(
                    struct.pack(">II", setting & 0xFFFFFF, value) for setting, value in values
                )
                return _control(FrameType.SETTINGS, 1 if clear else 0, body)
            case Ping(ping_id):
                return _control(FrameType.PING, 0, struct.pack(">I", ping_id))
            case GoAway(last_good, status):
                body = struct.pack(">II", last_good & _STREAM_ID_MASK, status)
                return _control(FrameType.GOAWAY, 0, body)
            case WindowUpdate(stream_id, delta):
                if not 0 < delta <= _STREAM_ID_MASK:
                    raise ValueError(f"window delta {delta} is outside 1..2^31-1")
                body = struct.pack(">II", stream_id & _STREAM_ID_MASK, delta)
                return _control(FrameType.WINDOW_UPDATE, 0, body)
            case UnknownControl():
                raise ValueError("unknown control frames are only ever received")


def _stream(stream_id: int) -> int:
    if not 0 < stream_id <= _STREAM_ID_MASK:
        raise ValueError(f"stream id {stream_id} is outside 1..2^31-1")
    return stream_id


def _control(kind: FrameType, flags: int, body: bytes) -> bytes:
    return struct.pack(">HHI", _CONTROL_BIT | VERSION, kind, flags << 24 | len(body)) + body


class FrameDecoder:
    """Turns the bytes of one direction into frames, however the bytes arrive in chunks."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._decompressor = zlib.decompressobj(zdict=HEADER_DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            (length,) = struct.unpack_from(">I", self._buffer, 4)
            end = 8 + (length & 0xFFFFFF)
            if len(self._buffer) < end:
                break
            head, payload = bytes(self._buffer[:8]), bytes(self._buffer[8:end])
            del self._buffer[:end]
            frames.append(self._decode(head, payload))
        return frames

    def _decompress(self, block: bytes) -> HeaderList:
        try:
            return decode_header_block(self._decompressor.decompress(block))
        except zlib.error as error:
            raise SpdyProtocolError(f"header block does not inflate: {error}") from None

    def _decode(self, head: bytes, payload: bytes) -> Frame:
        first, flags_length = struct.unpack(">II", head)
        flags = flags_length >> 24
        if not first & 0x80000000:
            return DataFrame(_received_stream(first), payload, bool(flags & FLAG_FIN))
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise SpdyProtocolError(f"control frame of SPDY version {version}, expected 3")
        try:
            return self._decode_control(kind, flags, payload)
        except struct.error:
            raise SpdyProtocolError(f"control frame type {kind} is too short") from None

    def _decode_control(self, kind: int, flags: int, payload: bytes) -> Frame:
        fin = bool(flags & FLAG_FIN)
        match kind:
            case FrameType.SYN_STREAM:
                stream_id, associated, priority, _slot = struct.unpack_from(">IIBB", payload)
                return SynStream(
                    _received_stream(stream_id),
                    self._decompress(payload[10:]),
                    associated & _STREAM_ID_MASK,
                    priority >> 5,
                    fin,
                    bool(flags & FLAG_UNIDIRECTIONAL),
                )
            case FrameType.SYN_REPLY | FrameType.HEADERS:
                (stream_id,) = struct.unpack_from(">I", payload)
                headers = self._decompress(payload[4:])
                frame_class = SynReply if kind == FrameType.SYN_REPLY else Headers
                return frame_class(_received_stream(stream_id), headers, fin)
            case FrameType.RST_STREAM:
                stream_id, status = struct.unpack(">II", payload)
                return RstStream(_received_stream(stream_id), status)
            case FrameType.SETTINGS:
                (count,) = struct.unpack_from(">I", payload)
                entries = struct.unpack_from(">" + "II" * count, payload, 4)
                values = tuple(
                    (entries[i] & 0xFFFFFF, entries[i + 1]) for i in range(0, len(entries), 2)
                )
                return Settings(values, clear=bool(flags & 1))
            case FrameType.PING:
                return Ping(struct.unpack(">I", payload)[0])
            case FrameType.GOAWAY:
                last_good, status = struct.unpack(">II", payload)
                return GoAway(last_good & _STREAM_ID_MASK, status)
            case FrameType.WINDOW_UPDATE:
                stream_id, delta = struct.unpack(">II", payload)
                return WindowUpdate(stream_id & _STREAM_ID_MASK, delta & _STREAM_ID_MASK)
            case _:
                return UnknownControl(kind)


def _received_stream(raw: int) -> int:
    stream_id = raw & _STREAM_ID_MASK
    if stream_id == 0:
        raise SpdyProtocolError("stream id 0 is not allowed on a stream frame")
    return stream_id
