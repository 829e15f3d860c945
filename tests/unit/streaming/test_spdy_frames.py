"""The SPDY/3.1 codec on its own: frames survive a round trip and match the wire format."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_streaming.spdy.dictionary import HEADER_DICTIONARY
from kube_streaming.spdy.frames import (
    DataFrame,
    Frame,
    FrameDecoder,
    FrameEncoder,
    GoAway,
    Headers,
    Ping,
    RstStream,
    Settings,
    SpdyProtocolError,
    SynReply,
    SynStream,
    UnknownControl,
    WindowUpdate,
    decode_header_block,
    encode_header_block,
    header_value,
)

stream_ids = st.integers(min_value=1, max_value=2**31 - 1)
names = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20)
values = st.text(st.characters(exclude_characters="\x00", codec="utf-8"), max_size=40)
header_lists = st.lists(st.tuples(names, values), max_size=6, unique_by=lambda pair: pair[0]).map(
    tuple
)

frames: st.SearchStrategy[Frame] = st.one_of(
    st.builds(DataFrame, stream_ids, st.binary(max_size=300), st.booleans()),
    st.builds(SynStream, stream_ids, header_lists, st.integers(0, 2**31 - 1),
              st.integers(0, 7), st.booleans(), st.booleans()),
    st.builds(SynReply, stream_ids, header_lists, st.booleans()),
    st.builds(Headers, stream_ids, header_lists, st.booleans()),
    st.builds(RstStream, stream_ids, st.integers(1, 11)),
    st.builds(Settings, st.lists(st.tuples(st.integers(1, 8), st.integers(0, 2**32 - 1)),
                                 max_size=4).map(tuple), st.booleans()),
    st.builds(Ping, st.integers(1, 2**32 - 1)),
    st.builds(GoAway, st.integers(0, 2**31 - 1), st.integers(0, 2)),
    st.builds(WindowUpdate, st.integers(0, 2**31 - 1), st.integers(1, 2**31 - 1)),
)  # fmt: skip


@given(st.lists(frames, max_size=8), st.integers(1, 64))
def test_frames_round_trip_through_one_connection_in_any_chunking(
    sent: list[Frame], chunk: int
) -> None:
    """One encoder and one decoder per direction, as on a real connection: the header
    compression context carries over from frame to frame."""
    encoder, decoder = FrameEncoder(), FrameDecoder()
    wire = b"".join(encoder.encode(frame) for frame in sent)
    received = [f for i in range(0, len(wire), chunk) for f in decoder.feed(wire[i : i + chunk])]
    assert received == sent


def test_data_frame_wire_format() -> None:
    wire = FrameEncoder().encode(DataFrame(5, b"hello", fin=True))
    assert wire == struct.pack(">II", 5, 0x01000005) + b"hello"


def test_control_frame_wire_format_ping_goaway_rst_window() -> None:
    encoder = FrameEncoder()
    assert encoder.encode(Ping(7)) == bytes.fromhex("80030006 00000004 00000007")
    assert encoder.encode(GoAway(3, 0)) == bytes.fromhex("80030007 00000008 00000003 00000000")
    assert encoder.encode(RstStream(1, 5)) == bytes.fromhex("80030003 00000008 00000001 00000005")
    assert encoder.encode(WindowUpdate(1, 1024)) == bytes.fromhex(
        "80030009 00000008 00000001 00000400"
    )


def test_settings_wire_format() -> None:
    wire = FrameEncoder().encode(Settings(((7, 65536),)))
    assert wire == bytes.fromhex("80030004 0000000c 00000001 00000007 00010000")


def test_syn_stream_layout_and_flags() -> None:
    wire = FrameEncoder().encode(SynStream(3, (("streamtype", "error"),), priority=2, fin=True))
    version, kind, flags_length, stream_id, associated, priority, slot = struct.unpack_from(
        ">HHIIIBB", wire
    )
    assert (version, kind) == (0x8003, 1)
    assert flags_length >> 24 == 0x01  # FIN
    assert flags_length & 0xFFFFFF == len(wire) - 8
    assert (stream_id, associated, priority >> 5, slot) == (3, 0, 2, 0)


def test_header_block_format_joins_repeated_names_with_nul() -> None:
    block = encode_header_block((("port", "80"), ("port", "81"), ("streamtype", "data")))
    assert block == (
        struct.pack(">I", 2)
        + struct.pack(">I", 4) + b"port" + struct.pack(">I", 5) + b"80\x0081"
        + struct.pack(">I", 10) + b"streamtype" + struct.pack(">I", 4) + b"data"
    )  # fmt: skip
    assert decode_header_block(block) == (("port", "80"), ("port", "81"), ("streamtype", "data"))


def test_header_names_are_sent_lowercase_and_looked_up_case_insensitively() -> None:
    frame = FrameDecoder().feed(FrameEncoder().encode(SynReply(1, (("X-Stream", "v4"),))))[0]
    assert isinstance(frame, SynReply)
    assert frame.headers == (("x-stream", "v4"),)
    assert header_value(frame.headers, "X-STREAM") == "v4"
    assert header_value(frame.headers, "missing") is None


def test_uppercase_header_names_from_a_peer_are_a_protocol_error() -> None:
    block = struct.pack(">I", 1) + struct.pack(">I", 4) + b"Port" + struct.pack(">I", 2) + b"80"
    with pytest.raises(SpdyProtocolError, match="not lowercase"):
        decode_header_block(block)


def test_dictionary_is_the_spdy3_one() -> None:
    """The SPDY/3 dictionary is 1423 bytes; Go's framer names it by this Adler-32 in every
    compressed block, and inflate refuses a block primed with any other dictionary."""
    assert len(HEADER_DICTIONARY) == 1423
    assert zlib.adler32(HEADER_DICTIONARY) == 0xE3C6A7C2
    assert HEADER_DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert HEADER_DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


def test_header_compression_is_primed_with_the_dictionary() -> None:
    """The zlib stream announces the dictionary id, and plain zlib cannot inflate it alone."""
    compressed = FrameEncoder().compress_headers((("streamtype", "stdout"),))
    flags = compressed[1]
    assert flags & 0x20, "FDICT bit must be set"
    assert compressed[2:6] == struct.pack(">I", zlib.adler32(HEADER_DICTIONARY))
    with pytest.raises(zlib.error):
        zlib.decompressobj().decompress(compressed)
    inflated = zlib.decompressobj(zdict=HEADER_DICTIONARY).decompress(compressed)
    assert inflated == encode_header_block((("streamtype", "stdout"),))


def test_compression_context_spans_frames() -> None:
    """A second block with the same headers is shorter: the window remembers the first."""
    encoder = FrameEncoder()
    headers = (("streamtype", "stdout"), ("x-stream-protocol-version", "v4.channel.k8s.io"))
    first, second = encoder.compress_headers(headers), encoder.compress_headers(headers)
    assert len(second) < len(first)
    with pytest.raises(zlib.error):  # a continuation: no zlib header, refers to the first
        zlib.decompressobj(zdict=HEADER_DICTIONARY).decompress(second)


def test_unknown_control_frames_are_skipped_not_fatal() -> None:
    noop = struct.pack(">HHI", 0x8003, 5, 0)  # SPDY/2's NOOP
    frames = FrameDecoder().feed(noop + FrameEncoder().encode(Ping(1)))
    assert frames == [UnknownControl(5), Ping(1)]


def test_wrong_version_is_a_protocol_error() -> None:
    spdy2_ping = struct.pack(">HHII", 0x8002, 6, 4, 1)
    with pytest.raises(SpdyProtocolError, match="version 2"):
        FrameDecoder().feed(spdy2_ping)


def test_stream_id_zero_is_refused_both_ways() -> None:
    with pytest.raises(ValueError, match="stream id 0"):
        FrameEncoder().encode(DataFrame(0, b""))
    with pytest.raises(SpdyProtocolError, match="stream id 0"):
        FrameDecoder().feed(struct.pack(">II", 0, 0))


def test_a_partial_frame_waits_for_the_rest() -> None:
    wire = FrameEncoder().encode(DataFrame(1, b"abcdef"))
    decoder = FrameDecoder()
    assert decoder.feed(wire[:9]) == []
    assert decoder.feed(wire[9:]) == [DataFrame(1, b"abcdef")]
