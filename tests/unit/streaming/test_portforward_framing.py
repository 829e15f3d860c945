"""Port forwarding's WebSocket framing, pinned to the bytes kubelet and containerd send."""

from __future__ import annotations

from kube_streaming.portforward import channels, port_index, port_prefix, split_port_prefix


def test_each_port_has_a_data_and_an_error_channel_in_request_order() -> None:
    assert [channels(index) for index in range(3)] == [(0, 1), (2, 3), (4, 5)]
    assert [port_index(channel) for channel in range(4)] == [
        (0, False),
        (0, True),
        (1, False),
        (1, True),
    ]


def test_a_channel_opens_with_its_port_little_endian() -> None:
    # containerd 1.6 opened port 8080's channels with 0x90 0x1f (tests/transcripts/)
    assert port_prefix(8080) == b"\x90\x1f"
    assert split_port_prefix(b"\x90\x1fpong") == (8080, b"pong")
    assert split_port_prefix(b"\x90") is None
