"""Exec, attach and port forwarding over SPDY/3.1, as kubelet, crictl and kubectl speak them.

remotecommand (``v4.channel.k8s.io``): one stream per standard stream, named by the
``streamType`` header, plus ``error`` (the exit status) and ``resize`` (JSON terminal sizes).
portforward (``portforward.k8s.io``): per connection an ``error`` stream then a ``data``
stream, both carrying the ``port`` and a ``requestID`` shared by the pair.
"""

from __future__ import annotations

import itertools
import time

from harness.streaming.collect import Collector
from harness.streaming.commands import PortConnection, PortForward, RemoteCommand
from kube_streaming.errors import StreamingError
from kube_streaming.remotecommand import (
    PORT,
    PORT_FORWARD,
    REQUEST_ID,
    STREAM_TYPE,
    V4_CHANNEL,
    StreamOptions,
    StreamType,
    TerminalSize,
)
from kube_streaming.spdy.session import Session, Stream
from kube_streaming.upgrade import spdy_upgrade

_OUTPUTS = (StreamType.STDOUT, StreamType.STDERR, StreamType.ERROR)


def _connect(url: str, protocol: str, timeout: float) -> Session:
    sock, _chosen, received = spdy_upgrade(url, [protocol], timeout)
    return Session(sock, server=False, received=received).start()


class SpdyRemoteCommand(RemoteCommand):
    """Exactly the streams the request asked for: kubelet waits for that many."""

    def __init__(
        self,
        url: str,
        options: StreamOptions,
        timeout: float,
        handshake_timeout: float | None = None,
    ) -> None:
        super().__init__(options, timeout)
        handshake = timeout if handshake_timeout is None else handshake_timeout
        self.session = _connect(url, V4_CHANNEL, handshake)
        try:
            self.streams = {
                kind: self.session.open_stream(((STREAM_TYPE, kind.value),), handshake)
                for kind in options.spdy_streams
            }
        except BaseException:
            self.session.close()
            raise
        self._collectors = {
            kind: Collector(f"{kind.value} stream", stream.read)
            for kind, stream in self.streams.items()
            if kind in _OUTPUTS
        }

    def _stream(self, kind: StreamType) -> Stream:
        if kind not in self.streams:
            raise StreamingError(f"this session has no {kind.value} stream ({self.options})")
        return self.streams[kind]

    def write_stdin(self, data: bytes) -> None:
        self._stream(StreamType.STDIN).write(data, self.timeout)

    def close_stdin(self) -> None:
        self._stream(StreamType.STDIN).close_write()

    def resize(self, width: int, height: int) -> None:
        self._stream(StreamType.RESIZE).write(TerminalSize(width, height).encode(), self.timeout)

    def close(self) -> None:
        self.session.close(linger=1.0)


class SpdyPortConnection(PortConnection):
    def __init__(self, data: Stream, error: Stream, timeout: float) -> None:
        self.data = data
        self.timeout = timeout
        self._error = Collector(f"port-forward error stream {error.id}", error.read)
        self._received = Collector(f"port-forward data stream {data.id}", data.read)

    def send(self, payload: bytes) -> None:
        self.data.write(payload, self.timeout)

    def close_write(self) -> None:
        self.data.close_write()

    def read_until_closed(self, timeout: float | None = None) -> bytes:
        return self._received.result(time.monotonic() + (timeout or self.timeout))

    def error_text(self) -> str:
        try:
            return self._error.result(time.monotonic() + 1).decode("utf-8", "replace")
        except TimeoutError:  # the runtime keeps the error stream open while all is well
            return self._error.snapshot().decode("utf-8", "replace")


class SpdyPortForward(PortForward):
    """Every ``connect`` opens a new stream pair, as kubectl does per accepted connection."""

    def __init__(self, url: str, timeout: float, handshake_timeout: float | None = None) -> None:
        self.timeout = timeout
        handshake = timeout if handshake_timeout is None else handshake_timeout
        self.session = _connect(url, PORT_FORWARD, handshake)
        self._request_ids = itertools.count()

    def connect(self, port: int) -> SpdyPortConnection:
        pair = ((PORT, str(port)), (REQUEST_ID, str(next(self._request_ids))))
        error = self.session.open_stream(
            ((STREAM_TYPE, StreamType.ERROR.value), *pair), self.timeout
        )
        error.close_write()  # client-go never writes to the error stream
        data = self.session.open_stream(((STREAM_TYPE, StreamType.DATA.value), *pair), self.timeout)
        return SpdyPortConnection(data, error, self.timeout)

    def close(self) -> None:
        self.session.close(linger=1.0)
