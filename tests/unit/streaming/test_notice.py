"""How a streaming connection's end is noticed: callbacks once, and a hang-up seen unread."""

from __future__ import annotations

import socket

from kube_streaming.notice import Notice, hung_up


def test_subscribers_hear_once_and_late_ones_at_once() -> None:
    notice, heard = Notice(), []
    notice.subscribe(lambda: heard.append("early"))
    notice.set()
    notice.set()
    notice.subscribe(lambda: heard.append("late"))
    assert heard == ["early", "late"]
    assert notice.is_set()


def test_a_hang_up_shows_behind_unread_data() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert not hung_up(ours)
        theirs.sendall(b"never read")
        assert not hung_up(ours)
        theirs.close()
        assert hung_up(ours)


def test_a_closed_socket_counts_as_hung_up() -> None:
    ours, theirs = socket.socketpair()
    with theirs:
        ours.close()
        assert hung_up(ours)
