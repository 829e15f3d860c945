"""The host's side of microvm streaming, on socket pairs standing in for QEMU's ports.

The guest's side (the agent, ptyrun) runs in real VMs: suites/test_streaming.py and the tty and
stdin tests of suites/test_container_config.py with ``--cri-shim-backend microvm``.
"""

from __future__ import annotations

import base64
import socket
import threading
from pathlib import Path

import pytest

from kube_streaming.remotecommand import StreamType, TerminalSize
from reference_shim.backends.microvm.attach import WorkloadAttach, WorkloadStdio
from reference_shim.backends.microvm.sessions import SYNC, ExecSession, Sessions
from reference_shim.errors import BackendError


class FakeMonitor:
    """Plugs a port by listening on its socket, as QEMU does; keeps the guest's ends."""

    def __init__(self, fail_on: str = "") -> None:
        self.fail_on = fail_on
        self.guest: dict[str, socket.socket] = {}
        self.plugged: list[str] = []
        self.unplugged: list[str] = []

    def plug_port(self, name: str, socket_path: Path) -> None:
        if name.endswith(self.fail_on) and self.fail_on:
            raise BackendError("out of ports")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(socket_path))
        listener.listen(1)

        def accept() -> None:
            self.guest[name.split("-")[1]] = listener.accept()[0]
            listener.close()

        threading.Thread(target=accept, daemon=True).start()
        self.plugged.append(name)

    def unplug_port(self, name: str) -> None:
        self.unplugged.append(name)


def _pair(count: int) -> tuple[dict[str, socket.socket], dict[str, socket.socket]]:
    host, guest = {}, {}
    for role in ("out", "err", "in")[:count]:
        host[role], guest[role] = socket.socketpair()
    return host, guest


def test_output_ends_only_once_the_counted_bytes_arrived() -> None:
    host, guest = _pair(2)
    session = ExecSession("s1", host, False, lambda line: None, lambda s: None)
    guest["out"].sendall(b"early ")
    session.ended(3, len(b"early late"), len(b"oops"))  # the report overtakes the bytes
    guest["out"].sendall(b"late")
    guest["err"].sendall(b"oops")
    chunks = list(session.output())
    assert b"".join(data for kind, data in chunks if kind is StreamType.STDOUT) == b"early late"
    assert b"".join(data for kind, data in chunks if kind is StreamType.STDERR) == b"oops"
    assert session.wait() == 3


def test_end_of_input_is_a_half_close_without_a_terminal_and_a_control_d_with_one() -> None:
    host, guest = _pair(3)
    piped = ExecSession("s1", host, False, lambda line: None, lambda s: None)
    piped.write_stdin(b"data")
    piped.close_stdin()
    assert guest["in"].recv(100) == b"data"
    assert guest["in"].recv(100) == b""  # end of input; the port stays open for output
    with pytest.raises(BrokenPipeError):
        piped.write_stdin(b"more")
    host, guest = _pair(3)
    sent: list[str] = []
    ports = {"out": host["out"], "in": host["in"]}
    terminal = ExecSession("s2", ports, True, sent.append, lambda s: None)
    terminal.close_stdin()
    terminal.resize(TerminalSize(width=100, height=30))
    assert guest["in"].recv(100) == b"\x04"
    assert sent == ["RESIZE s2 30 100"]


def test_a_session_plugs_its_ports_syncs_stdin_and_sends_the_argv_in_base64(
    tmp_path: Path,
) -> None:
    monitor, sent = FakeMonitor(), list[str]()
    session = Sessions(tmp_path, monitor, sent.append).open(
        ["sh", "-c", "a b"], stdin=True, tty=False
    )
    assert [name.split("-")[1] for name in monitor.plugged] == ["out", "err", "in"]
    [line] = sent
    words = line.split(" ")
    assert words[:4] == ["SESSION", session.id, "0", "1"]
    assert [base64.b64decode(word).decode() for word in words[4:]] == ["sh", "-c", "a b"]
    threading.Event().wait(0.1)  # the fake's accept thread
    assert monitor.guest["in"].recv(1) == SYNC
    session.ended(0, 0, 0)
    assert list(session.output()) == []
    session.close()
    assert sorted(monitor.unplugged) == sorted(monitor.plugged)


def test_a_terminal_session_has_no_stderr_port_and_a_failed_plug_unplugs_the_rest(
    tmp_path: Path,
) -> None:
    monitor = FakeMonitor()
    Sessions(tmp_path, monitor, lambda line: None).open(["sh"], stdin=False, tty=True)
    assert [name.split("-")[1] for name in monitor.plugged] == ["out"]
    failing, sent = FakeMonitor(fail_on="-in"), list[str]()
    with pytest.raises(BackendError):
        Sessions(tmp_path, failing, sent.append).open(["sh"], stdin=True, tty=False)
    assert sent == []
    assert {name.split("-")[1] for name in failing.unplugged} == {"out", "err", "in"}


@pytest.mark.parametrize("stdin_once", [True, False])
def test_stdin_once_closes_the_workload_stdin_when_the_first_attach_with_stdin_ends(
    stdin_once: bool,
) -> None:
    host, guest = socket.socketpair()
    stdio = WorkloadStdio(lambda line: None, tty=False, stdin_once=stdin_once)
    stdio.connect_stdin(host)
    assert guest.recv(1) == SYNC
    WorkloadAttach(stdio, stdin=False).close()  # no stdin: closes nothing
    first = WorkloadAttach(stdio, stdin=True)
    first.write_stdin(b"first\n")
    first.close_stdin()
    first.close()
    WorkloadAttach(stdio, stdin=True).write_stdin(b"second\n")
    guest.settimeout(1)
    received = b""
    while chunk := guest.recv(100) if stdin_once or b"second" not in received else b"":
        received += chunk
    assert received == (b"first\n" if stdin_once else b"first\nsecond\n")


def test_an_attach_gets_the_output_from_when_it_attached_until_the_vm_ended() -> None:
    stdio = WorkloadStdio(lambda line: None, tty=False, stdin_once=False)
    stdio.feed("stdout", b"before\n")
    attach = WorkloadAttach(stdio, stdin=False)
    stdio.feed("stdout", b"out\n")
    stdio.feed("stderr", b"err\n")
    stdio.ended()
    assert list(attach.output()) == [(StreamType.STDOUT, b"out\n"), (StreamType.STDERR, b"err\n")]
    assert attach.wait() is None
    assert list(WorkloadAttach(stdio, stdin=False).output()) == []  # attached after the end
