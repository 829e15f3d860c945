"""Streaming abuse on the reference shim (Docker backend), through its real Exec, Attach and
PortForward URLs: used and unknown tokens, clients that leave mid-stream, never read, or flood
stdin, and many sessions at once.

Each test fails cleanly and leaves the shim as it found it: no extra thread or file descriptor
(``/proc/<shim>/task`` and ``/fd``, back to what they were before the test), and no process of
a departed session, in the container or on the host (found by a marker in its command line).
Figures (times, counts) are printed at the end of the module.

The quick form runs in CI (``scripts/run tests``); the thorough one is::

    .venv/bin/pytest tests/integration/shim/test_streaming_abuse.py -p no:cacheprovider \\
        --abuse-sessions 500 --abuse-rounds 3
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import docker
import pytest
from cri_api.v1 import api_pb2 as cri
from docker_shim import clean_up_after, connect, run_container, shell, wait_for
from raw_streaming import SpdyClientThatNeverReads, WebSocketClientThatNeverReads, leave_abruptly
from shim_footprint import FIGURES, PROC, Footprint, processes_with, seconds_until_gone, settle

from harness import streaming
from harness.client import CriClient
from harness.streaming import StreamNotFound, StreamOptions, Transport
from reference_shim.launcher import ShimLauncher

STALL_S = 3.0
"""The shim's --streaming-stall-timeout here: a client taking no output is dropped after it."""
ENDED_WITHIN_S = 5.0
"""How soon a departed client's processes must be gone."""
PORT = 8080
LISTENER = f"nc -ll -p {PORT} -e sleep 3600"
"""The container's main process: silent, and it holds every connection it accepts open."""
MiB = 1024 * 1024


@dataclass(frozen=True)
class Target:
    launcher: ShimLauncher
    client: CriClient
    pod_id: str
    container_id: str

    @property
    def pid(self) -> int:
        assert self.launcher.pid is not None
        return self.launcher.pid


def warm_up(client: CriClient, container_id: str) -> None:
    """Fill the pools that grow once and then stay (gRPC's workers, the idle connections of
    the Docker API clients), so that what a test leaves is all that is counted."""
    transports = list(Transport)
    with ThreadPoolExecutor(24) as pool:
        list(pool.map(lambda _: client.exec_sync(container_id, ["sleep", "1"]), range(24)))
        list(
            pool.map(
                lambda i: streaming.run_exec(
                    client, container_id, ["sleep", "1"], transports[i % len(transports)]
                ),
                range(24),
            )
        )


@pytest.fixture(scope="module")
def target(
    tmp_path_factory: pytest.TempPathFactory, docker_api: docker.APIClient
) -> Iterator[Target]:
    folder = tmp_path_factory.mktemp("abuse")
    state = folder / "state"
    launcher = ShimLauncher(
        state_dir=state, extra_args=["--streaming-stall-timeout", str(STALL_S)]
    ).start()
    client = connect(launcher)
    pod_config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="abuse", namespace="shim-test", uid="uid-abuse"),
        log_directory=str(folder / "logs"),
    )
    try:
        pod_id, container_id = run_container(client, pod_config, shell(LISTENER))
        warm_up(client, container_id)
        yield Target(launcher, client, pod_id, container_id)
    finally:
        client.close()
        launcher.stop()
        shutil.copy(launcher.stderr_path, folder / "shim.log")  # kept for a failure's story
        launcher.close()
        clean_up_after(state, docker_api)


@pytest.fixture
def before(target: Target) -> Footprint:
    return Footprint.of(target.pid)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> list[str]:
    """Lines the tests measured, printed in the terminal summary (by the conftest)."""
    return request.config.stash.setdefault(FIGURES, [])


def marker() -> str:
    """A sleep duration no other process has in its command line: it finds the processes."""
    return f"{3000 + secrets.randbelow(600)}.{secrets.randbelow(10**6):06d}"


def processes_in_container(target: Target) -> str:
    """What ``ps`` lists inside the container: its own view, not the host's."""
    return target.client.exec_sync(target.container_id, ["ps", "-o", "pid,args"]).stdout.decode()


def assert_ended(target: Target, mark: str, since: float, within: float) -> float:
    """Seconds from ``since`` until no process with ``mark`` was left, host and container."""
    seconds_until_gone(mark, within - (time.monotonic() - since))
    elapsed = time.monotonic() - since
    assert mark not in processes_in_container(target)
    return elapsed


# -- tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", list(Transport))
def test_a_url_serves_one_session(target: Target, before: Footprint, transport: Transport) -> None:
    tally = f"/tmp/tally-{secrets.token_hex(4)}"
    request = cri.ExecRequest(
        container_id=target.container_id,
        cmd=["sh", "-c", f"echo ran >> {tally}"],
        stdout=True,
        stderr=True,
    )
    url = target.client.exec_url(request)
    options = StreamOptions.of(request)
    with streaming.connect_remote_command(url, transport, options) as session:
        assert session.wait().exit_code == 0
    for again in Transport:
        with pytest.raises(StreamNotFound):
            streaming.connect_remote_command(url, again, options)
    ran = target.client.exec_sync(target.container_id, ["cat", tally]).stdout
    assert ran == b"ran\n", "the command ran again on a used URL"
    settle(target.pid, before)


def test_unknown_and_misused_tokens_are_refused(target: Target, before: Footprint) -> None:
    tally = f"/tmp/tally-{secrets.token_hex(4)}"
    request = cri.ExecRequest(
        container_id=target.container_id, cmd=["touch", tally], stdout=True, stderr=True
    )
    url = target.client.exec_url(request)
    base, _, token = url.rpartition("/exec/")
    options = StreamOptions.of(request)
    unknown = secrets.token_urlsafe(18)
    paths = [
        f"/exec/{unknown}",
        f"/attach/{unknown}",
        f"/portforward/{unknown}",
        "/exec/",
        f"/exec/{unknown}/more",
        "/",
        f"/attach/{token}",  # a real exec token on the wrong path is spent there...
        f"/exec/{token}",  # ...so its own URL is refused after it
    ]
    for path in paths:
        for transport in (Transport.SPDY, Transport.WEBSOCKET):
            with pytest.raises(StreamNotFound):
                streaming.connect_remote_command(base + path, transport, options)
    found = target.client.exec_sync(target.container_id, ["test", "-e", tally])
    assert found.exit_code == 1, "a refused URL ran its command"
    settle(target.pid, before)


# -- clients that leave ---------------------------------------------------------------------


def quiet(mark: str) -> tuple[list[str], dict[str, bool]]:
    return ["sleep", mark], {"stdout": True, "stderr": True}


def shell_with_a_child(mark: str) -> tuple[list[str], dict[str, bool]]:
    return ["sh", "-c", f"sleep {mark}; echo never"], {"stdout": True, "stderr": True}


def terminal_waiting_for_input(mark: str) -> tuple[list[str], dict[str, bool]]:
    return ["sh", "-c", f"read line; sleep {mark}"], {"stdin": True, "stdout": True, "tty": True}


DEPARTURES = [
    pytest.param(Transport.SPDY, quiet, False, id="spdy-sleep-close"),
    pytest.param(Transport.WEBSOCKET, quiet, False, id="websocket-sleep-close"),
    pytest.param(Transport.WEBSOCKET_V5, quiet, False, id="websocket-v5-sleep-close"),
    pytest.param(Transport.SPDY, shell_with_a_child, True, id="spdy-shell-child-vanish"),
    pytest.param(Transport.WEBSOCKET_V5, terminal_waiting_for_input, True, id="v5-tty-vanish"),
]


@pytest.mark.parametrize(("transport", "command", "abrupt"), DEPARTURES)
def test_a_departed_clients_exec_is_ended(
    target: Target,
    before: Footprint,
    figures: list[str],
    transport: Transport,
    command: Callable[[str], tuple[list[str], dict[str, bool]]],
    abrupt: bool,
) -> None:
    """The client goes (with a goodbye, or its connection just vanishes) while the command
    prints nothing: the command and all it started end, though no write ever fails."""
    mark = marker()
    argv, streams = command(mark)
    request = cri.ExecRequest(container_id=target.container_id, cmd=argv, **streams)
    session = streaming.start_exec(target.client, request, transport)
    wait_for(lambda: bool(processes_with(mark)))
    left = time.monotonic()
    if abrupt:
        leave_abruptly(session)
    else:
        session.close()
    elapsed = assert_ended(target, mark, left, ENDED_WITHIN_S)
    after = settle(target.pid, before)
    how = "vanished" if abrupt else "closed"
    figures.append(
        f"departed exec, {transport.value}, {command.__name__}, client {how}: its processes "
        f"ended {elapsed:.2f} s later; shim {before} before, {after} after"
    )


@pytest.mark.parametrize("transport", [Transport.SPDY, Transport.WEBSOCKET])
def test_a_departed_attach_lets_go_of_the_container(
    target: Target, before: Footprint, transport: Transport
) -> None:
    """The container prints nothing, so no write notices the client left; the session's
    thread and sockets go anyway, and the container keeps running (attach never ends it)."""
    request = cri.AttachRequest(container_id=target.container_id, stdout=True, stderr=True)
    session = streaming.start_attach(target.client, request, transport)
    time.sleep(0.5)  # the server attaches to the container
    session.close()
    settle(target.pid, before)
    status = target.client.container_status(target.container_id).status
    assert status.state == cri.CONTAINER_RUNNING
    assert LISTENER in processes_in_container(target)


@pytest.mark.parametrize("transport", [Transport.SPDY, Transport.WEBSOCKET])
def test_a_departed_port_forward_lets_go_of_the_pod(
    target: Target, before: Footprint, transport: Transport
) -> None:
    """The pod holds the forwarded connection open and silent: only the client's departure
    can end the copy threads and the pod-side socket."""
    forward = streaming.open_port_forward(target.client, target.pod_id, [PORT], transport)
    connection = forward.connect(PORT)
    connection.send(b"anyone there?\n")
    time.sleep(0.5)  # the server dials the pod
    forward.close()
    settle(target.pid, before)


# -- clients that never read, or send too much ------------------------------------------------


CLIENTS_THAT_NEVER_READ: dict[str, Callable[[str, StreamOptions], Any]] = {
    "spdy": SpdyClientThatNeverReads,
    "websocket": lambda url, options: WebSocketClientThatNeverReads(url),
}


@pytest.mark.parametrize("protocol", list(CLIENTS_THAT_NEVER_READ))
def test_a_client_that_never_reads_costs_a_bounded_amount_then_is_dropped(
    target: Target, before: Footprint, figures: list[str], protocol: str
) -> None:
    """``yes`` prints without end to a client that reads nothing: the shim holds no more
    than socket buffers, serves others meanwhile, and after the stall timeout drops the
    client and ends the command, though the client is still connected."""
    mark = marker()
    request = cri.ExecRequest(container_id=target.container_id, cmd=["yes", mark], stdout=True)
    started = time.monotonic()
    stuck = CLIENTS_THAT_NEVER_READ[protocol](
        target.client.exec_url(request), StreamOptions.of(request)
    )
    try:
        wait_for(lambda: bool(processes_with(mark)))
        time.sleep(1.0)  # every buffer between `yes` and the client fills
        filled = Footprint.of(target.pid)
        served_from = time.monotonic()
        result = streaming.run_exec(
            target.client, target.container_id, ["echo", "served"], Transport.SPDY, timeout=10
        )
        served_in = time.monotonic() - served_from
        assert result.stdout == b"served\n"
        growth = Footprint.of(target.pid).rss_kib - filled.rss_kib
        assert growth < 16 * 1024, f"the shim grew by {growth} KiB while the client read nothing"
        dropped_after = assert_ended(target, mark, started, STALL_S + 15)
    finally:
        stuck.leave()
    after = settle(target.pid, before)
    figures.append(
        f"client that never reads, {protocol}: another exec served in {served_in:.2f} s, shim "
        f"RSS {filled.rss_kib // 1024} MiB while stuck (+{growth} KiB later), `yes` ended "
        f"{dropped_after:.1f} s after the start (stall timeout {STALL_S:g} s); shim {after} after"
    )


def test_a_client_that_ignores_flow_control_is_held_back(
    target: Target, before: Footprint, figures: list[str]
) -> None:
    """A SPDY client that keeps no window floods the stdin of a command that never reads it:
    the shim stops reading that client (as spdystream does) instead of holding the flood."""
    mark = marker()
    request = cri.ExecRequest(
        container_id=target.container_id, cmd=["sleep", mark], stdin=True, stdout=True
    )
    flooder = SpdyClientThatNeverReads(target.client.exec_url(request), StreamOptions.of(request))
    try:
        wait_for(lambda: bool(processes_with(mark)))
        rss_before = Footprint.of(target.pid).rss_kib
        sent = flooder.flood_stdin(limit=256 * MiB, stall=2.0)
        growth = Footprint.of(target.pid).rss_kib - rss_before
        assert sent < 64 * MiB, f"the shim took {sent // MiB} MiB of stdin nobody reads"
        assert growth < 32 * 1024, f"the shim grew by {growth // 1024} MiB holding stdin"
    finally:
        left = time.monotonic()
        flooder.leave()
    elapsed = assert_ended(target, mark, left, ENDED_WITHIN_S)
    after = settle(target.pid, before)
    figures.append(
        f"stdin flood, SPDY without flow control: the client was held after {sent // 1024} KiB, "
        f"shim RSS +{growth} KiB; `sleep` ended {elapsed:.2f} s after the client left; "
        f"shim {after} after"
    )


# -- many sessions --------------------------------------------------------------------------


def one_session(target: Target, index: int) -> tuple[bytes, int | None]:
    transports = list(Transport)
    script = f"echo session {index}; sleep 1; exit {index % 7}"
    result = streaming.run_exec(
        target.client,
        target.container_id,
        ["sh", "-c", script],
        transports[index % len(transports)],
        timeout=300,
    )
    return result.stdout, result.exit_code


class PeakFootprint:
    """Samples the shim's threads and file descriptors while a load runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.threads = self.fds = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        task, fd = PROC / str(self.pid) / "task", PROC / str(self.pid) / "fd"
        while not self._stop.wait(0.05):
            self.threads = max(self.threads, len(os.listdir(task)))
            self.fds = max(self.fds, len(os.listdir(fd)))

    def __enter__(self) -> PeakFootprint:
        self._sampler.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._sampler.join()


def run_concurrently(target: Target, sessions: int) -> float:
    """``sessions`` exec sessions at once, each checked; the seconds they took together."""
    started = time.monotonic()
    with ThreadPoolExecutor(sessions) as pool:
        results = list(pool.map(lambda i: one_session(target, i), range(sessions)))
    took = time.monotonic() - started
    wrong = [
        (i, result)
        for i, result in enumerate(results)
        if result != (f"session {i}\n".encode(), i % 7)
    ]
    assert not wrong, f"{len(wrong)} of {sessions} sessions got the wrong result: {wrong[:5]}"
    return took


def test_many_concurrent_exec_sessions(
    target: Target, before: Footprint, figures: list[str], request: pytest.FixtureRequest
) -> None:
    """``--abuse-sessions`` sessions at once (a third per transport), ``--abuse-rounds`` times:
    each session gets its own output and exit code, and after each round the shim is back to
    where it was."""
    sessions = int(request.config.getoption("abuse_sessions", default=100))
    rounds = int(request.config.getoption("abuse_rounds", default=1))
    for round_number in range(1, rounds + 1):
        with PeakFootprint(target.pid) as peak:
            took = run_concurrently(target, sessions)
        after = settle(target.pid, before, timeout=60)
        figures.append(
            f"{sessions} concurrent exec sessions, round {round_number}/{rounds}: all right in "
            f"{took:.1f} s; shim {before} before, peak {peak.threads} threads and {peak.fds} "
            f"fds, {after} after"
        )
