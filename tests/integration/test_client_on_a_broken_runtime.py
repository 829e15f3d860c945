"""The harness's client against a runtime that hangs, hangs up or answers garbage.

``BrokenRuntime`` answers on its own here (no upstream). Each fault must end within the
deadline the client was given, with an error that names the call and what went wrong, and
never as a ``CallFailed``: that is the runtime's own answer, and a check that expects a
refusal (``expect.refused``) must not take a hang or garbage for one.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from broken_runtime import GARBAGE, HANG, HANG_UP, SILENT_STREAM, WRONG_TYPES, BrokenRuntime, Fault
from cri_api.v1 import api_pb2 as api

from harness import streaming
from harness.client import BadAnswer, CriClient, CriError, EndpointUnavailable, NoAnswer
from harness.endpoints import Endpoints
from harness.expect import refused
from harness.streaming import StreamingError, Transport

DEADLINE = 1.0
# Time for a call to come back once its deadline passed, on a busy 2-core machine.
SLACK = 2.0


def client_of(endpoint: str) -> CriClient:
    return CriClient(Endpoints(endpoint, endpoint, "test"), timeout=DEADLINE)


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[Callable[..., CriClient]]:
    """``broken(RunPodSandbox=Fault(HANG))``: a connected client of a runtime with those faults."""
    opened: list[tuple[BrokenRuntime, CriClient]] = []

    def start(**faults: Fault) -> CriClient:
        runtime = BrokenRuntime(faults, tmp_path / f"broken-{len(opened)}.sock").__enter__()
        client = client_of(runtime.endpoint)
        opened.append((runtime, client))
        client.connect()
        return client

    yield start
    for runtime, client in opened:
        client.close()
        runtime.__exit__(None, None, None)


def timed_failure(call: Callable[[], object]) -> tuple[CriError, float]:
    started = time.monotonic()
    with pytest.raises(CriError) as failure:
        call()
    return failure.value, time.monotonic() - started


def test_a_call_the_runtime_never_answers_fails_at_its_deadline_naming_it(
    broken: Callable[..., CriClient],
) -> None:
    client = broken(RunPodSandbox=Fault(HANG))
    error, took = timed_failure(lambda: client.run_pod(api.PodSandboxConfig()))
    assert isinstance(error, NoAnswer)
    assert str(error).startswith(f"RunPodSandbox did not answer within {DEADLINE:g} s"), error
    assert DEADLINE <= took < DEADLINE + SLACK
    assert client.version().runtime_name == "broken-runtime", "the client no longer works"


def test_teardown_calls_get_a_multiple_of_the_deadline_not_a_fixed_extra(
    broken: Callable[..., CriClient],
) -> None:
    client = broken(StopPodSandbox=Fault(HANG), PullImage=Fault(HANG))
    error, took = timed_failure(lambda: client.stop_pod("some-pod"))
    assert str(error).startswith(f"StopPodSandbox did not answer within {2 * DEADLINE:g} s")
    assert 2 * DEADLINE <= took < 2 * DEADLINE + SLACK
    error, took = timed_failure(lambda: client.pull_image("some-image"))
    assert str(error).startswith(f"PullImage did not answer within {5 * DEADLINE:g} s")


def test_a_hang_is_no_refusal(broken: Callable[..., CriClient]) -> None:
    client = broken(StartContainer=Fault(HANG))
    with pytest.raises(NoAnswer, match="StartContainer did not answer"), refused():
        client.start_container("no-such-container")


def test_a_cut_connection_fails_the_call_and_the_next_call_reconnects(
    broken: Callable[..., CriClient],
) -> None:
    client = broken(StopPodSandbox=Fault(HANG_UP))
    error, took = timed_failure(lambda: client.stop_pod("some-pod"))
    assert isinstance(error, EndpointUnavailable)
    assert "StopPodSandbox got no answer" in str(error)
    assert "unavailable or closed the connection" in str(error)
    assert took < SLACK
    assert client.version().runtime_name == "broken-runtime"


def test_a_cut_read_is_sent_once_more_and_a_cut_change_is_sent_once(tmp_path: Path) -> None:
    # A read changes nothing, so a second try on a new connection is safe; a change may have
    # been made before the connection went, and must never be made twice.
    faults = {"ListPodSandbox": Fault(HANG_UP), "RemovePodSandbox": Fault(HANG_UP)}
    with BrokenRuntime(faults, tmp_path / "b.sock") as runtime:
        client = client_of(runtime.endpoint)
        client.connect()
        with pytest.raises(EndpointUnavailable, match="ListPodSandbox got no answer"):
            client.list_pods()
        with pytest.raises(EndpointUnavailable, match="RemovePodSandbox got no answer"):
            client.remove_pod("some-pod")
        client.close()
    assert runtime.faulted == {"ListPodSandbox": 2, "RemovePodSandbox": 1}


def test_an_answer_that_does_not_decode_is_a_bad_answer_not_a_refusal(
    broken: Callable[..., CriClient],
) -> None:
    client = broken(PodSandboxStatus=Fault(GARBAGE))
    with pytest.raises(BadAnswer) as failure, refused():
        client.pod_status("some-pod")
    assert str(failure.value).startswith(
        "PodSandboxStatus answered bytes that do not decode as a PodSandboxStatusResponse"
    )


def test_an_id_sent_with_the_wrong_wire_type_is_an_answer_without_an_id(
    broken: Callable[..., CriClient],
) -> None:
    client = broken(RunPodSandbox=Fault(WRONG_TYPES), CreateContainer=Fault(WRONG_TYPES))
    with pytest.raises(BadAnswer, match=r"^RunPodSandbox answered OK without a pod_sandbox_id$"):
        client.run_pod(api.PodSandboxConfig())
    with pytest.raises(BadAnswer, match=r"^CreateContainer answered OK without a container_id$"):
        client.create_container("pod", api.ContainerConfig(), api.PodSandboxConfig())


def test_version_that_never_answers_ends_the_connection_attempt_at_the_deadline(
    tmp_path: Path,
) -> None:
    with BrokenRuntime({"Version": Fault(HANG)}, tmp_path / "b.sock") as runtime:
        client = client_of(runtime.endpoint)
        error, took = timed_failure(client.connect)
        client.close()
    assert str(error).startswith("Version did not answer within 1 s"), error
    assert took < DEADLINE + SLACK


def test_a_socket_that_never_speaks_grpc_is_reported_unavailable_at_the_deadline(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mute.sock"
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(str(path))
    mute.listen(8)
    held: list[socket.socket] = []
    accepting = threading.Thread(target=lambda: held.append(mute.accept()[0]), daemon=True)
    accepting.start()
    client = client_of(f"unix://{path}")
    try:
        error, took = timed_failure(client.connect)
    finally:
        client.close()
        for connection in held:
            connection.close()
        mute.close()
    assert isinstance(error, EndpointUnavailable)
    assert f"no CRI runtime answers at unix://{path} within 1 s" in str(error)
    assert took < DEADLINE + SLACK


@pytest.mark.parametrize("transport", list(Transport), ids=[t.value for t in Transport])
def test_a_streaming_url_that_never_answers_fails_at_the_cri_deadline(
    broken: Callable[..., CriClient], transport: Transport
) -> None:
    client = broken(Exec=Fault(SILENT_STREAM))
    started = time.monotonic()
    with pytest.raises(StreamingError) as failure:
        streaming.run_exec(client, "some-container", ["true"], transport, timeout=60)
    took = time.monotonic() - started
    assert "/never-answers did not answer the " in str(failure.value)
    assert f"within {DEADLINE:g} s" in str(failure.value)
    assert took < DEADLINE + SLACK, "the session timeout, not the CRI deadline, bounded it"


def test_a_port_forward_url_that_never_answers_fails_at_the_cri_deadline(
    broken: Callable[..., CriClient],
) -> None:
    client = broken(PortForward=Fault(SILENT_STREAM))
    for transport in (Transport.SPDY, Transport.WEBSOCKET):
        started = time.monotonic()
        with pytest.raises(StreamingError, match="did not answer the"):
            streaming.open_port_forward(client, "some-pod", [80], transport, timeout=60)
        assert time.monotonic() - started < DEADLINE + SLACK
