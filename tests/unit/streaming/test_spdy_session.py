"""SPDY sessions end to end over a socket pair, and against a peer scripted frame by frame."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from kube_streaming.spdy.flow import (
    DEFAULT_WINDOW,
    RECEIVE_WINDOW,
    FlowControlError,
    SendWindows,
)
from kube_streaming.spdy.frames import (
    DataFrame,
    Frame,
    FrameDecoder,
    FrameEncoder,
    GoAway,
    Ping,
    RstStatus,
    RstStream,
    SettingId,
    Settings,
    SynReply,
    SynStream,
    WindowUpdate,
)
from kube_streaming.spdy.session import (
    MAX_BUFFERED,
    Session,
    Stream,
    StreamClosed,
    StreamRefused,
)

TIMEOUT = 5.0
Pair = tuple[Session, Session, list[Stream]]


class ScriptedPeer:
    """The far end as raw frames, to see exactly what a session sends and how it reacts."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(TIMEOUT)
        self.encoder, self.decoder = FrameEncoder(), FrameDecoder()
        self.pending: list[Frame] = []

    def send(self, *frames: Frame) -> None:
        self.sock.sendall(b"".join(self.encoder.encode(frame) for frame in frames))

    def next(self, kind: type[Frame]) -> Frame:
        """The next frame of ``kind``, skipping others (window updates, settings)."""
        while True:
            while self.pending:
                frame = self.pending.pop(0)
                if isinstance(frame, kind):
                    return frame
            data = self.sock.recv(65536)
            assert data, f"connection closed while waiting for {kind.__name__}"
            self.pending += self.decoder.feed(data)


Scripted = tuple[Session, ScriptedPeer]


def open_answered(
    session: Session, peer: ScriptedPeer, kind: str, answer: Callable[[int], list[Frame]]
) -> Stream | StreamClosed:
    """Open a stream on ``session`` while ``peer`` answers its SYN_STREAM with ``answer``."""
    outcome: list[Stream | StreamClosed] = []

    def open_it() -> None:
        try:
            outcome.append(session.open_stream((("streamtype", kind),), TIMEOUT))
        except StreamClosed as error:
            outcome.append(error)

    opener = threading.Thread(target=open_it)
    opener.start()
    syn = peer.next(SynStream)
    assert isinstance(syn, SynStream)
    peer.send(*answer(syn.stream_id))
    opener.join(TIMEOUT)
    (result,) = outcome
    return result


@pytest.fixture
def pair() -> Iterator[Pair]:
    """A client and a server session; the server replies to every stream it is offered."""
    client_sock, server_sock = socket.socketpair()
    accepted: list[Stream] = []

    def on_stream(stream: Stream) -> None:
        accepted.append(stream)
        stream.reply()

    server = Session(server_sock, server=True, on_stream=on_stream).start()
    client = Session(client_sock, server=False).start()
    yield client, server, accepted
    client.close()
    server.close()


@pytest.fixture
def scripted_client() -> Iterator[Scripted]:
    """Our client session facing a scripted server that announces nothing (like spdystream)."""
    ours, theirs = socket.socketpair()
    session = Session(ours, server=False).start()
    peer = ScriptedPeer(theirs)
    yield session, peer
    session.close()
    theirs.close()


def test_streams_carry_data_both_ways_and_fin_ends_reading(pair: Pair) -> None:
    client, _server, accepted = pair
    stream = client.open_stream((("streamtype", "stdin"),), TIMEOUT)
    assert stream.id == 1
    (remote,) = accepted
    assert remote.headers == (("streamtype", "stdin"),)

    stream.write(b"ping\n")
    stream.close_write()
    assert remote.read_all(TIMEOUT) == b"ping\n"
    remote.write(b"pong\n")
    remote.close_write()
    assert stream.read_all(TIMEOUT) == b"pong\n"


def test_client_streams_are_odd_and_increasing(pair: Pair) -> None:
    client, _server, accepted = pair
    ids = [client.open_stream((("n", str(i)),), TIMEOUT).id for i in range(3)]
    assert ids == [1, 3, 5]
    assert [stream.id for stream in accepted] == [1, 3, 5]


def test_a_refused_stream_raises(scripted_client: Scripted) -> None:
    session, peer = scripted_client
    result = open_answered(
        session, peer, "bogus", lambda sid: [RstStream(sid, RstStatus.REFUSED_STREAM)]
    )
    assert isinstance(result, StreamRefused)


def test_data_before_reset_stays_readable_then_writes_fail(scripted_client: Scripted) -> None:
    """kubelet resets every stream when a command ends, right after the last output."""
    session, peer = scripted_client
    stream = open_answered(
        session,
        peer,
        "stdout",
        lambda sid: [
            SynReply(sid, ()),
            DataFrame(sid, b"last words"),
            RstStream(sid, RstStatus.CANCEL),
        ],
    )
    assert isinstance(stream, Stream)
    assert stream.read_all(TIMEOUT) == b"last words"
    assert stream.reset_status == RstStatus.CANCEL
    with pytest.raises(StreamClosed):
        stream.write(b"too late")


def test_pings_are_answered_and_measured(pair: Pair) -> None:
    client, server, _accepted = pair
    assert 0 <= client.ping(TIMEOUT) < TIMEOUT
    assert 0 <= server.ping(TIMEOUT) < TIMEOUT


def test_peer_pings_are_echoed_with_their_id(scripted_client: Scripted) -> None:
    _session, peer = scripted_client
    peer.send(Ping(2))  # a server ping: even id
    assert peer.next(Ping) == Ping(2)


def test_goaway_stops_new_streams(scripted_client: Scripted) -> None:
    session, peer = scripted_client
    peer.send(GoAway(0))
    peer.send(Ping(2))
    peer.next(Ping)  # the goaway before it has been handled
    with pytest.raises(StreamClosed, match="going away"):
        session.open_stream((("streamtype", "error"),), TIMEOUT)


def test_closing_sends_goaway_and_ends_every_stream(pair: Pair) -> None:
    client, server, accepted = pair
    stream = client.open_stream((("streamtype", "stdout"),), TIMEOUT)
    accepted[0].write(b"partial")
    assert stream.read(TIMEOUT) == b"partial"
    server.close()
    assert stream.read_all(TIMEOUT) == b""
    assert client.closed.wait(TIMEOUT)


def test_a_lingering_close_half_closes_and_waits_for_the_peer(scripted_client: Scripted) -> None:
    session, peer = scripted_client
    closer = threading.Thread(target=session.close, kwargs={"linger": TIMEOUT})
    closer.start()
    assert isinstance(peer.next(GoAway), GoAway)
    while peer.sock.recv(65536):  # our FIN arrives while the session still reads
        pass
    assert closer.is_alive(), "close must wait for the peer"
    peer.sock.close()
    closer.join(TIMEOUT)
    assert not closer.is_alive()
    assert session.closed.is_set()


def test_streams_of_the_wrong_parity_are_reset(scripted_client: Scripted) -> None:
    _session, peer = scripted_client
    peer.send(SynStream(3, (("streamtype", "x"),)))  # odd ids belong to the client
    assert peer.next(RstStream) == RstStream(3, RstStatus.PROTOCOL_ERROR)


def test_sessions_announce_their_windows_first(scripted_client: Scripted) -> None:
    """SETTINGS sizes every stream window; SPDY/3.1's session window grows by WINDOW_UPDATE."""
    _session, peer = scripted_client
    assert peer.next(Settings) == Settings(((SettingId.INITIAL_WINDOW_SIZE, RECEIVE_WINDOW),))
    assert peer.next(WindowUpdate) == WindowUpdate(0, RECEIVE_WINDOW - DEFAULT_WINDOW)


# -- flow control ------------------------------------------------------------------------


def test_a_peer_that_keeps_windows_holds_the_sender_at_its_window_until_it_reads(
    pair: Pair,
) -> None:
    client, server, accepted = pair
    stream = client.open_stream((("streamtype", "stdout"),), TIMEOUT)
    payload = bytes(range(256)) * 12 * 1024  # 3 MiB
    writer = threading.Thread(target=accepted[0].write, args=(payload, TIMEOUT))
    writer.start()
    deadline = time.monotonic() + TIMEOUT
    while server.windows.stream(accepted[0].id) != 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.windows.stream(accepted[0].id) == 0
    time.sleep(0.2)
    assert writer.is_alive(), "the writer must wait for the reader's WINDOW_UPDATE"
    buffered = sum(len(chunk) for chunk in stream._chunks)
    assert buffered == RECEIVE_WINDOW

    received = b""
    while len(received) < len(payload):
        received += stream.read(TIMEOUT)
    writer.join(TIMEOUT)
    assert not writer.is_alive()
    assert received == payload


def test_a_peer_that_never_announces_windows_is_not_waited_for(scripted_client: Scripted) -> None:
    """Go's spdystream never sends WINDOW_UPDATE; obeying 64 KiB would stall forever."""
    session, peer = scripted_client
    stream = open_answered(session, peer, "stdin", lambda sid: [SynReply(sid, ())])
    assert isinstance(stream, Stream)
    payload = b"x" * (3 * DEFAULT_WINDOW)
    stream.write(payload, timeout=1)
    stream.close_write()
    received = b""
    while True:
        frame = peer.next(DataFrame)
        assert isinstance(frame, DataFrame)
        received += frame.data
        if frame.fin:
            break
    assert received == payload


def test_reading_grants_window_back_to_the_peer_a_quarter_window_at_a_time() -> None:
    ours, theirs = socket.socketpair()
    accepted: list[Stream] = []
    session = Session(ours, server=False, on_stream=accepted.append).start()
    peer = ScriptedPeer(theirs)
    quarter = RECEIVE_WINDOW // 4
    try:
        peer.send(SynStream(2, (("streamtype", "data"),)), Ping(4))
        peer.next(Ping)
        (stream,) = accepted
        stream.reply()
        assert peer.next(SynReply) == SynReply(2, ())
        peer.send(DataFrame(2, b"x" * (quarter - 1)), DataFrame(2, b"yz"))
        assert stream.read(TIMEOUT) == b"x" * (quarter - 1)
        assert stream.read(TIMEOUT) == b"yz"
        updates = [peer.next(WindowUpdate) for _ in range(2)]  # none for the first read alone
        assert updates == [WindowUpdate(2, quarter + 1), WindowUpdate(0, quarter + 1)]
    finally:
        session.close()
        theirs.close()


def test_streams_nobody_handles_are_refused(scripted_client: Scripted) -> None:
    _session, peer = scripted_client
    peer.send(SynStream(2, (("streamtype", "data"),)))
    assert peer.next(RstStream) == RstStream(2, RstStatus.REFUSED_STREAM)


def test_initial_window_setting_moves_open_streams_by_the_change() -> None:
    windows = SendWindows()
    windows.open(1)
    windows.set_initial(1000)
    assert windows.enforced
    assert windows.stream(1) == 1000
    assert windows.take(1, 1200, 0, lambda: False) == 1000
    windows.set_initial(100)  # the stream owes 900 now
    assert windows.stream(1) == -900
    with pytest.raises(TimeoutError):
        windows.take(1, 1, 0.05, lambda: False)
    windows.open(3)
    assert windows.stream(3) == 100


def test_take_is_bounded_by_the_session_window_too() -> None:
    windows = SendWindows()
    windows.open(1)
    windows.grow(1, 10 * DEFAULT_WINDOW)
    assert windows.take(1, 5 * DEFAULT_WINDOW, 0, lambda: False) == DEFAULT_WINDOW
    with pytest.raises(TimeoutError):
        windows.take(1, 1, 0.05, lambda: False)
    windows.grow(0, 100)
    assert windows.take(1, 1000, 0, lambda: False) == 100


def test_take_returns_nothing_once_the_stream_is_closed() -> None:
    windows = SendWindows()
    windows.open(1)
    windows.enforce()
    windows.take(1, DEFAULT_WINDOW, 0, lambda: False)
    closed = threading.Event()

    def close() -> None:
        closed.set()
        windows.wake()

    threading.Timer(0.05, close).start()
    assert windows.take(1, 10, TIMEOUT, closed.is_set) == 0


def test_a_window_past_two_to_the_31_is_a_flow_control_error() -> None:
    windows = SendWindows()
    windows.open(1)
    with pytest.raises(FlowControlError):
        windows.grow(1, 2**31 - 1)


def flood(peer: ScriptedPeer, stream_id: int, limit: int) -> int:
    """DATA frames with no regard for windows until ``limit`` or until the session stops
    reading; the bytes sent in whole frames."""
    chunk, sent = b"x" * 32 * 1024, 0
    peer.sock.settimeout(0.5)
    with contextlib.suppress(TimeoutError):
        while sent < limit:
            peer.send(DataFrame(stream_id, chunk))
            sent += len(chunk)
    return sent


def test_a_peer_that_ignores_windows_is_read_no_further_than_the_bound(
    scripted_client: Scripted,
) -> None:
    """Nobody reads the stream: the session stops reading the socket once the stream holds
    MAX_BUFFERED (spdystream's peers keep no windows), and reads on as the reader catches up."""
    session, peer = scripted_client
    stream = open_answered(session, peer, "stdout", lambda sid: [SynReply(sid, ())])
    assert isinstance(stream, Stream)
    sent = flood(peer, stream.id, 16 * MAX_BUFFERED)
    assert sent < 4 * MAX_BUFFERED
    received = 0
    while received < sent:
        received += len(stream.read(TIMEOUT))


def test_a_peer_that_hangs_up_while_held_back_ends_the_session(scripted_client: Scripted) -> None:
    session, peer = scripted_client
    stream = open_answered(session, peer, "stdout", lambda sid: [SynReply(sid, ())])
    assert isinstance(stream, Stream)
    flood(peer, stream.id, 16 * MAX_BUFFERED)
    peer.sock.close()
    assert session.closed.wait(TIMEOUT)
