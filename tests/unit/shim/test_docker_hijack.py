"""Output of a hijacked Docker connection is read whole, including the bytes that came with the
response headers (docker/docker-py#3332: docker-py's own readers lose them)."""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from reference_shim.backends.docker.hijack import (
    STDERR,
    STDOUT,
    Hijacked,
    collect_output,
    read_frames,
)
from reference_shim.errors import BackendError

UPGRADED = (
    b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
    b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
)


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def frames_of(raw: bytes, tty: bool = False) -> list[tuple[int, bytes]]:
    return list(read_frames(io.BufferedReader(io.BytesIO(raw)), tty))


def test_frames_keep_their_streams_and_order() -> None:
    raw = frame(STDOUT, b"one\n") + frame(STDERR, b"oops\n") + frame(STDOUT, b"two\n")
    assert frames_of(raw) == [(STDOUT, b"one\n"), (STDERR, b"oops\n"), (STDOUT, b"two\n")]
    assert collect_output(iter(frames_of(raw))) == (b"one\ntwo\n", b"oops\n")


def test_a_frame_larger_than_the_read_buffer_arrives_whole() -> None:
    payload = bytes(range(256)) * 1024  # 256 KiB, many times io.DEFAULT_BUFFER_SIZE
    assert frames_of(frame(STDOUT, payload)) == [(STDOUT, payload)]


def test_an_empty_frame_is_skipped() -> None:
    assert frames_of(frame(STDOUT, b"") + frame(STDOUT, b"x")) == [(STDOUT, b"x")]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (frame(STDOUT, b"whole") + frame(STDOUT, b"cut short")[:-3], "6 of 9 bytes"),
        (frame(STDOUT, b"whole") + frame(STDOUT, b"x")[:5], "frame header"),
    ],
)
def test_a_stream_that_ends_inside_a_frame_is_an_error_not_short_output(
    raw: bytes, reason: str
) -> None:
    with pytest.raises(BackendError, match=reason):
        frames_of(raw)


def test_tty_output_is_raw_stdout() -> None:
    assert (
        b"".join(data for _, data in frames_of(b"\x01\x00raw\r\n", tty=True)) == b"\x01\x00raw\r\n"
    )
    assert {stream for stream, _ in frames_of(b"a" * 200_000, tty=True)} == {STDOUT}


def test_output_on_an_unknown_stream_is_refused() -> None:
    with pytest.raises(BackendError, match="unknown stream 3: boom"):
        collect_output(iter([(STDOUT, b"ok"), (3, b"boom")]))


class FakeEngine:
    """A Docker Engine on a unix socket that answers one exec start with ``reply`` sent in one
    write before it closes: what a loaded machine shows when the command ends before the
    client reads the response headers. ``hold`` keeps the connection open after the reply."""

    def __init__(self, path: Path, reply: bytes, hold: bool = False) -> None:
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen(1)
        self.reply = reply
        self.hold = hold
        self.url = f"unix://{path}"
        self.released = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(body) < length:
                body += connection.recv(4096)
            connection.sendall(self.reply)
            if self.hold:
                self.released.wait(10)

    def close(self) -> None:
        self.released.set()
        self.thread.join(10)
        self.listener.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[list[FakeEngine]]:
    started: list[FakeEngine] = []
    yield started
    for fake in started:
        fake.close()


OUTPUT = frame(STDOUT, b"Name:\tcat\n") + frame(STDERR, b"warn\n") + frame(STDOUT, b"Uid:\t0\n")


def test_output_sent_with_the_headers_is_read(engine: list[FakeEngine], tmp_path: Path) -> None:
    engine.append(FakeEngine(tmp_path / "docker.sock", UPGRADED + OUTPUT))
    api = docker.APIClient(base_url=engine[0].url, version="1.41")
    connection = Hijacked.of(api.exec_start("e1", socket=True))
    try:
        assert collect_output(connection.frames(tty=False)) == (b"Name:\tcat\nUid:\t0\n", b"warn\n")
    finally:
        connection.close()


def test_docker_py_alone_loses_output_sent_with_the_headers(
    engine: list[FakeEngine], tmp_path: Path
) -> None:
    """The wrong reader this module replaces: if docker-py ever reads through its buffer, this
    test fails and the workaround can go."""
    engine.append(FakeEngine(tmp_path / "docker.sock", UPGRADED + OUTPUT))
    api = docker.APIClient(base_url=engine[0].url, version="1.41")
    assert api.exec_start("e1", demux=True) == (None, None)


def test_closing_ends_a_read_blocked_in_another_thread(
    engine: list[FakeEngine], tmp_path: Path
) -> None:
    engine.append(FakeEngine(tmp_path / "docker.sock", UPGRADED + frame(STDOUT, b"hi"), hold=True))
    api = docker.APIClient(base_url=engine[0].url, version="1.41")
    connection = Hijacked.of(api.exec_start("e1", socket=True))
    read: list[tuple[int, bytes]] = []
    reader = threading.Thread(target=lambda: read.extend(connection.frames(tty=False)))
    reader.start()
    time.sleep(0.2)  # the reader has the first frame and waits for more
    connection.close()
    reader.join(5)
    assert not reader.is_alive()
    assert read == [(STDOUT, b"hi")]


def test_a_connection_without_its_http_reader_is_refused_not_read_lossily() -> None:
    left, right = socket.socketpair()
    with left, right, pytest.raises(BackendError, match="HTTP reader"):
        Hijacked.of(left.makefile("rb", buffering=0))
