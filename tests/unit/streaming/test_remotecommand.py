"""The remotecommand conventions both clients and the shim's server rely on."""

from __future__ import annotations

import pytest

from kube_streaming.errors import ProtocolUnsupported, StreamingError, StreamNotFound
from kube_streaming.errors import refused_upgrade as refusal
from kube_streaming.remotecommand import (
    StreamOptions,
    StreamType,
    TerminalSize,
    decode_status,
    exit_code_status,
    failure_status,
    success_status,
)

# Verbatim from containerd 1.6's streaming server (kubelet's encoding).
CONTAINERD_EXIT_3 = (
    b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code:'
    b' error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode",'
    b'"details":{"causes":[{"reason":"ExitCode","message":"3"}]}}'
)


def test_kubelet_exit_status_decodes_to_the_code() -> None:
    status = decode_status(CONTAINERD_EXIT_3)
    assert status.exit_code == 3
    assert "non-zero exit code" in status.message


def test_success_is_exit_code_zero() -> None:
    assert decode_status(b'{"metadata":{},"status":"Success"}').exit_code == 0


def test_what_the_shim_writes_decodes_the_same_way() -> None:
    assert decode_status(success_status()).exit_code == 0
    assert decode_status(exit_code_status(42, "exit status 42")).exit_code == 42
    internal = decode_status(failure_status("no such container"))
    assert internal.exit_code is None
    assert "no such container" in internal.message


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"plain text error from a v1 server",
        b'{"status":"Pending"}',
        b'{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[]}}',
        b"[]",
    ],
)
def test_a_missing_or_malformed_status_is_a_protocol_violation(raw: bytes) -> None:
    with pytest.raises(StreamingError):
        decode_status(raw)


def test_spdy_streams_match_what_kubelet_counts() -> None:
    """kubelet waits for 1 + stdin + stdout + stderr + (tty ? resize) streams."""
    assert StreamOptions(stdin=False, stdout=True, stderr=True).spdy_streams == [
        StreamType.ERROR, StreamType.STDOUT, StreamType.STDERR
    ]  # fmt: skip
    assert StreamOptions(stdin=True, stdout=True, stderr=False, tty=True).spdy_streams == [
        StreamType.ERROR, StreamType.STDIN, StreamType.STDOUT, StreamType.RESIZE
    ]  # fmt: skip


def test_terminal_size_is_go_json() -> None:
    assert TerminalSize(100, 30).encode() == b'{"Width": 100, "Height": 30}'
    assert TerminalSize.decode({"Width": 80, "Height": 24}) == TerminalSize(80, 24)


def test_only_a_negotiated_refusal_maps_to_unsupported() -> None:
    url = "http://127.0.0.1:1/exec/abc"
    assert isinstance(refusal(url, "WebSocket v5", 403, ""), ProtocolUnsupported)
    assert isinstance(refusal(url, "SPDY/3.1 v4", 426, "upgrade required"), ProtocolUnsupported)
    assert isinstance(refusal(url, "SPDY/3.1 v4", 404, "404 page not found"), StreamNotFound)
    for status in (400, 405, 501):  # not how a streaming server declines a protocol
        assert type(refusal(url, "SPDY/3.1 v4", status, "no")) is StreamingError
    chose_one = refusal(url, "SPDY/3.1 v4", 403, "", chosen="v4.channel.k8s.io")
    assert type(chose_one) is StreamingError, "a refusal that names a protocol is no negotiation"
    server_error = refusal(url, "SPDY/3.1 v4", 500, "boom")
    assert type(server_error) is StreamingError
