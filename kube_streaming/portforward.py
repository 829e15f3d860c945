"""Port forwarding over WebSocket: how ports map to channels and how each channel opens.

The i-th port of the request gets channel 2i for its data and 2i+1 for its errors; the server
opens both with the port as two little-endian bytes (kubelet's portforward ``websocket.go``).
Over SPDY a port is a pair of streams instead, named by the headers in ``remotecommand``.
"""

from __future__ import annotations

import struct

_PREFIX = struct.Struct("<H")


def channels(index: int) -> tuple[int, int]:
    """The data and error channels of the ``index``-th requested port."""
    return 2 * index, 2 * index + 1


def port_index(channel: int) -> tuple[int, bool]:
    """Which requested port ``channel`` belongs to, and whether it is that port's error channel."""
    index, error = divmod(channel, 2)
    return index, bool(error)


def port_prefix(port: int) -> bytes:
    """What a channel of ``port`` opens with."""
    return _PREFIX.pack(port)


def split_port_prefix(received: bytes) -> tuple[int, bytes] | None:
    """The port a channel opened with and the bytes after it; None before all of it came."""
    if len(received) < _PREFIX.size:
        return None
    return _PREFIX.unpack_from(received)[0], received[_PREFIX.size :]
