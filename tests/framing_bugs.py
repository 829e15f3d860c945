"""Deliberate framing bugs in the wire code the harness's clients share with the shim's server.

A pytest plugin for showing which tests notice such a bug; it changes nothing unless asked::

    PYTHONPATH=tests pytest -p framing_bugs --framing-bug fin-flag tests/unit/shim_streaming

- ``fin-flag``: SPDY frames carry FIN as flag 0x04 instead of 0x01 (SPDY/3.1 2.2.1), written
  so by ``kube_streaming.spdy.frames`` and read back so by the same module.
- ``swapped-channels``: the ``channel.k8s.io`` table gives stdout channel 2 and stderr
  channel 1, in the shim's WebSocket server and the harness's WebSocket client alike.

Both ends of a harness test then agree with each other and pass; the transcript replay
(containerd's bytes) and the ``kubernetes`` client do not. The replay's own tests use these
bugs to prove that a replay can fail (``test_transcript_replay.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

import pytest

from harness.streaming import websocket_client
from kube_streaming import remotecommand
from kube_streaming.remotecommand import StreamType
from kube_streaming.spdy import frames
from reference_shim.streaming import websocket_server


def fin_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "FLAG_FIN", 0x04)


class SwappedChannel(IntEnum):
    STDIN = 0
    STDOUT = 2
    STDERR = 1
    ERROR = 3
    RESIZE = 4
    CLOSE = 255


def swapped_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (remotecommand, websocket_server, websocket_client):
        monkeypatch.setattr(module, "Channel", SwappedChannel)
    outputs = {StreamType.STDOUT: SwappedChannel.STDOUT, StreamType.STDERR: SwappedChannel.STDERR}
    monkeypatch.setattr(websocket_server, "_OUTPUT_CHANNELS", outputs)


BUGS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "fin-flag": fin_flag,
    "swapped-channels": swapped_channels,
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--framing-bug", choices=sorted(BUGS), help="put this bug in every test")


@pytest.fixture(autouse=True)
def _framing_bug(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    bug = request.config.getoption("--framing-bug")
    if bug:
        BUGS[bug](monkeypatch)
