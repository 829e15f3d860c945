"""A SPDY/3.1 session over one socket, for either end: streams, replies, pings, goaway.

One reader thread owns the socket's input and dispatches frames; any thread may write.
Streams opened by this end wait for the peer's SYN_REPLY before data flows, as Go's
``spdystream`` drops data that arrives on a stream it has not yet replied to.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable

from kube_streaming.notice import Notice, hung_up
from kube_streaming.spdy.flow import (
    DEFAULT_WINDOW,
    RECEIVE_WINDOW,
    FlowControlError,
    ReceiveCredit,
    SendWindows,
)
from kube_streaming.spdy.frames import (
    DataFrame,
    Frame,
    FrameDecoder,
    FrameEncoder,
    GoAway,
    HeaderList,
    Headers,
    Ping,
    RstStatus,
    RstStream,
    SettingId,
    Settings,
    SpdyProtocolError,
    SynReply,
    SynStream,
    UnknownControl,
    WindowUpdate,
)

_CHUNK = 32 * 1024
MAX_BUFFERED = 2 * RECEIVE_WINDOW
"""What one stream holds for a reader that is behind. A peer that keeps our windows stays
under it; one that ignores them (Go's spdystream keeps none) is made to wait: the session
stops reading its socket until the reader catches up, as spdystream's bounded frame queues do."""
_HANGUP_POLL_S = 0.5


class StreamClosed(ConnectionError):
    """The stream (or its whole session) is closed for the operation asked for."""


class StreamRefused(StreamClosed):
    """The peer answered a new stream with RST_STREAM instead of SYN_REPLY."""


class Stream:
    """One bidirectional SPDY stream; ``read`` returns b"" once the peer finished sending."""

    def __init__(self, session: Session, stream_id: int, headers: HeaderList) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.reply_headers: HeaderList = ()
        self.reset_status: int | None = None
        self.reply_received = False
        self._replied = threading.Event()
        self._changed = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._remote_done = False
        self._local_done = False

    # -- receiving ----------------------------------------------------------------------

    def read(self, timeout: float | None = None) -> bytes:
        """The next chunk the peer sent, b"" at end of stream; grants the peer more window."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._chunks or self._remote_done, timeout):
                raise TimeoutError(f"stream {self.id}: nothing received within {timeout}s")
            chunk = self._chunks.popleft() if self._chunks else b""
            self._buffered -= len(chunk)
            self._changed.notify_all()  # a delivery may wait for room
        if chunk:
            self.session.grant(self.id, len(chunk))
        return chunk

    def read_all(self, timeout: float | None = None) -> bytes:
        """Everything until the peer's FIN or reset, within ``timeout`` seconds in total."""
        deadline = None if timeout is None else time.monotonic() + timeout
        parts = []
        while chunk := self.read(None if deadline is None else deadline - time.monotonic()):
            parts.append(chunk)
        return b"".join(parts)

    def _deliver(self, data: bytes, fin: bool) -> None:
        """On the session's reader: hold ``data`` for ``read``, waiting while the stream
        holds more than ``MAX_BUFFERED``; a peer that hangs up meanwhile ends the session."""
        with self._changed:
            if data and self.reset_status is None:
                self._chunks.append(data)
                self._buffered += len(data)
            self._remote_done = self._remote_done or fin
            self._changed.notify_all()
            while self._buffered > MAX_BUFFERED and not self._ended():
                if not self._changed.wait(_HANGUP_POLL_S) and hung_up(self.session.sock):
                    raise ConnectionResetError("the peer hung up while a stream was behind")

    def _ended(self) -> bool:
        return self.reset_status is not None or self.session.closed.is_set()

    def _terminate(self, status: int | None) -> None:
        """The peer reset the stream, or the session ended: no more data either way."""
        with self._changed:
            if status is not None and self.reset_status is None:
                self.reset_status = status
            self._remote_done = self._local_done = True
            self._changed.notify_all()
        self._replied.set()
        self.session.windows.forget(self.id)
        self.session.credit.forget(self.id)

    # -- sending ------------------------------------------------------------------------

    def write(self, data: bytes, timeout: float | None = None) -> None:
        """Send all of ``data``, waiting for send window when the peer enforces one."""
        view = memoryview(data)
        while view:
            granted = self.session.windows.take(
                self.id, min(len(view), _CHUNK), timeout, lambda: self._local_done
            )
            if granted == 0:
                raise StreamClosed(f"stream {self.id} is closed for writing")
            self.session.send(DataFrame(self.id, bytes(view[:granted])))
            view = view[granted:]

    def close_write(self) -> None:
        """Half-close: send FIN so the peer reads end of stream (stdin EOF)."""
        with self._changed:
            if self._local_done:
                return
            self._local_done = True
        self.session.send(DataFrame(self.id, b"", fin=True))

    def reset(self, status: int = RstStatus.CANCEL) -> None:
        if self.reset_status is None:
            self.session.send_quietly(RstStream(self.id, status))
        self._terminate(status)

    # -- replying (streams the peer opened) ---------------------------------------------

    def reply(self, headers: HeaderList = ()) -> None:
        self.session.send(SynReply(self.id, headers))
        self._replied.set()

    def refuse(self) -> None:
        self.reset(RstStatus.REFUSED_STREAM)


class Session:
    """Both directions of one SPDY connection; ``server`` picks even stream and ping ids."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        server: bool,
        on_stream: Callable[[Stream], None] | None = None,
        received: bytes = b"",
    ) -> None:
        """``received`` holds bytes already read past the HTTP upgrade; ``on_stream`` is
        called on the reader thread for each stream the peer opens and must not block."""
        self.sock = sock
        self.server = server
        self.windows = SendWindows()
        self.credit = ReceiveCredit()
        self.closed = Notice()
        """Set when the session ends, by either side; subscribers hear of it at once."""
        self.error: Exception | None = None
        self._on_stream = on_stream
        self._encoder, self._decoder = FrameEncoder(), FrameDecoder()
        self._write_lock, self._lock = threading.Lock(), threading.Lock()
        self._streams: dict[int, Stream] = {}
        self._next_id = 2 if server else 1
        self._last_remote_id = 0
        self._next_ping = 2 if server else 1
        self._pings: dict[int, threading.Event] = {}
        self._going_away = False
        self._write_closed = False
        self._reader = threading.Thread(
            target=self._read_loop, args=(received,), name="spdy-reader", daemon=True
        )

    def start(self) -> Session:
        """Announce our receive windows (we keep windows) and start reading."""
        self.send(Settings(((SettingId.INITIAL_WINDOW_SIZE, RECEIVE_WINDOW),)))
        self.send(WindowUpdate(0, RECEIVE_WINDOW - DEFAULT_WINDOW))  # the session's, SPDY/3.1
        self._reader.start()
        return self

    # -- writing ------------------------------------------------------------------------

    def send(self, frame: Frame) -> None:
        with self._write_lock:
            if self.closed.is_set() or self._write_closed:
                raise StreamClosed("the SPDY session is closed")
            try:
                self.sock.sendall(self._encoder.encode(frame))
            except OSError as error:
                # Part of a frame may have gone: nothing more can be sent. Shutting the socket
                # down wakes the reader, which ends the session (taking no lock held here).
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RDWR)
                raise StreamClosed(f"the SPDY session broke: {error}") from error

    def send_quietly(self, frame: Frame) -> None:
        """Send a frame nobody waits on (a reply to the peer); a closed session drops it."""
        with contextlib.suppress(StreamClosed):
            self.send(frame)

    def grant(self, stream_id: int, consumed: int) -> None:
        """Give the peer back the window the application consumed."""
        for window, delta in self.credit.consumed(stream_id, consumed):
            self.send_quietly(WindowUpdate(window, delta))

    def open_stream(self, headers: HeaderList, timeout: float, fin: bool = False) -> Stream:
        """SYN_STREAM, then wait for the peer's SYN_REPLY (or its refusal)."""
        with self._lock:
            if self._going_away or self.closed.is_set():
                raise StreamClosed("the SPDY session is going away; no new streams")
            stream = Stream(self, self._next_id, headers)
            self._next_id += 2
            self._streams[stream.id] = stream
            self.windows.open(stream.id)
            self.send(SynStream(stream.id, headers, fin=fin))
        if not stream._replied.wait(timeout):
            raise TimeoutError(f"no SYN_REPLY for stream {stream.id} within {timeout}s")
        if stream.reply_received:
            return stream
        if stream.reset_status is not None:
            raise StreamRefused(
                f"stream {dict(headers)} refused (RST_STREAM {stream.reset_status})"
            )
        raise StreamClosed(f"the session ended before stream {dict(headers)} was answered")

    def ping(self, timeout: float) -> float:
        """Round-trip time of one PING, in seconds."""
        with self._lock:
            ping_id, self._next_ping = self._next_ping, self._next_ping + 2
            answered = self._pings[ping_id] = threading.Event()
        started = time.monotonic()
        self.send(Ping(ping_id))
        if not answered.wait(timeout) or self.closed.is_set():
            raise TimeoutError(f"PING {ping_id} not answered within {timeout}s")
        return time.monotonic() - started

    def close(self, linger: float = 0.0) -> None:
        """GOAWAY, then close the socket; every stream ends.

        With ``linger``, half-close first and wait up to that long for the peer to close:
        closing a socket with unread input makes the kernel send a TCP reset, which can
        destroy output the peer has received but not yet read.
        """
        self.send_quietly(GoAway(self._last_remote_id))
        if linger > 0 and not self.closed.is_set():
            with self._write_lock, contextlib.suppress(OSError):
                self._write_closed = True
                self.sock.shutdown(socket.SHUT_WR)
            self.closed.wait(linger)
        self._shutdown()

    def _shutdown(self) -> None:
        self.closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with self._lock:
            streams = list(self._streams.values())
            pings = list(self._pings.values())
        for stream in streams:
            stream._terminate(None)
        for event in pings:
            event.set()
        self.windows.wake()

    # -- reading ------------------------------------------------------------------------

    def _read_loop(self, received: bytes) -> None:
        try:
            data = received
            while True:
                for frame in self._decoder.feed(data):
                    self._dispatch(frame)
                data = self.sock.recv(65536)
                if not data:
                    break
        except (OSError, SpdyProtocolError, FlowControlError) as error:
            if not self.closed.is_set():
                self.error = error
                if not isinstance(error, OSError):
                    self.send_quietly(GoAway(self._last_remote_id, status=1))
        finally:
            self._shutdown()

    def _stream(self, stream_id: int) -> Stream | None:
        with self._lock:
            return self._streams.get(stream_id)

    def _dispatch(self, frame: Frame) -> None:
        match frame:
            case DataFrame(stream_id, data, fin):
                if stream := self._stream(stream_id):
                    stream._deliver(data, fin)
                else:
                    self.send_quietly(RstStream(stream_id, RstStatus.INVALID_STREAM))
            case SynStream():
                self._accept(frame)
            case SynReply(stream_id, headers, fin):
                if stream := self._stream(stream_id):
                    stream.reply_headers = headers
                    stream.reply_received = True
                    stream._replied.set()
                    stream._deliver(b"", fin)
            case Headers(stream_id, headers, fin):
                if stream := self._stream(stream_id):
                    stream.reply_headers += headers
                    stream._deliver(b"", fin)
            case RstStream(stream_id, status):
                if stream := self._stream(stream_id):
                    stream._terminate(status)
            case Settings(values):
                for setting, value in values:
                    if setting == SettingId.INITIAL_WINDOW_SIZE:
                        self.windows.set_initial(value)
            case Ping(ping_id):
                self._answer_ping(ping_id)
            case GoAway():
                with self._lock:
                    self._going_away = True
            case WindowUpdate(stream_id, delta):
                self.windows.grow(stream_id, delta)
            case UnknownControl():
                pass

    def _accept(self, frame: SynStream) -> None:
        peer_parity = 1 if self.server else 0
        with self._lock:
            valid = frame.stream_id % 2 == peer_parity and frame.stream_id > self._last_remote_id
            if valid:
                self._last_remote_id = frame.stream_id
                stream = Stream(self, frame.stream_id, frame.headers)
                self._streams[stream.id] = stream
                self.windows.open(stream.id)
        if not valid:
            self.send_quietly(RstStream(frame.stream_id, RstStatus.PROTOCOL_ERROR))
            return
        if frame.fin:
            stream._deliver(b"", True)
        if self._on_stream is None:
            stream.refuse()
        else:
            self._on_stream(stream)

    def _answer_ping(self, ping_id: int) -> None:
        ours = ping_id % 2 == self._next_ping % 2
        if not ours:
            self.send_quietly(Ping(ping_id))
            return
        with self._lock:
            answered = self._pings.pop(ping_id, None)
        if answered:
            answered.set()
