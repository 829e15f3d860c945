"""Docker's exec stream, read through the buffered reader the HTTP client used for the head."""

from __future__ import annotations

import io
import socket
from types import SimpleNamespace

from docker.utils.socket import STDERR, STDOUT

from reference_shim.backends.docker.exec_stream import close, frames


def frame(stream: int, data: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


def reader_of(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data))


def test_frames_are_split_by_stream() -> None:
    data = frame(STDOUT, b"out\n") + frame(STDERR, b"err\n") + frame(STDOUT, b"more")
    assert list(frames(reader_of(data), tty=False)) == [
        (STDOUT, b"out\n"),
        (STDERR, b"err\n"),
        (STDOUT, b"more"),
    ]


def test_a_cut_stream_ends_with_what_arrived() -> None:
    data = frame(STDOUT, b"whole") + frame(STDERR, b"partial")[:-3]
    assert list(frames(reader_of(data), tty=False)) == [(STDOUT, b"whole"), (STDERR, b"part")]


def test_a_terminal_stream_is_raw() -> None:
    assert b"".join(data for _, data in frames(reader_of(b"\x01raw bytes"), tty=True)) == (
        b"\x01raw bytes"
    )


def test_output_that_came_with_the_response_head_is_kept() -> None:
    """The HTTP client reads the head through a buffer that may hold the first frames too;
    reading the raw socket after it (as docker-py does) would lose them."""
    ours, docker = socket.socketpair()
    with ours, docker:
        head = b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        docker.sendall(head + frame(STDOUT, b"said at once\n"))
        docker.shutdown(socket.SHUT_WR)
        reader = ours.makefile("rb")
        while reader.readline() != b"\r\n":  # what http.client does with the head
            pass
        assert list(frames(reader, tty=False)) == [(STDOUT, b"said at once\n")]


class Hijacked(socket.SocketIO):
    """docker-py's answer to ``socket=True``: a SocketIO that keeps its response."""

    _response: SimpleNamespace  # docker-py's HTTP response: only .raw._fp.fp is read


def test_closing_a_stream_closes_the_socket_under_it() -> None:
    ours, docker = socket.socketpair()
    with docker:
        hijacked = Hijacked(ours, "rwb")
        reader = io.BufferedReader(hijacked)
        hijacked._response = SimpleNamespace(raw=SimpleNamespace(_fp=SimpleNamespace(fp=reader)))
        close(hijacked)
        assert ours.fileno() == -1
