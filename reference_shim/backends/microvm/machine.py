"""One VM: a QEMU process under TCG (KVM where it works), and the shim's end of its agent.

QEMU boots the guest kernel and the agent's initramfs on ``-M microvm`` with three virtio-serial
ports, each a unix socket QEMU listens on: ``ctl`` (the agent's line protocol, README.md),
``stdout`` and ``stderr`` (the workload's raw output). The shim connects to the three before the
agent starts the workload, so no byte of output is lost. Threads here read ``ctl`` (the
workload's exit, exec results), record the output as CRI log lines (``recorded_output``), and
wait for QEMU: when it ends, the exit is written to ``exit.json`` once the output is drained.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reference_shim.backends.base import ExecResult
from reference_shim.backends.microvm.attach import WorkloadStdio
from reference_shim.backends.microvm.launch import Launch, b64
from reference_shim.backends.microvm.monitor import Monitor
from reference_shim.backends.microvm.network import Nic
from reference_shim.backends.microvm.qemu import VmFiles, qemu_command
from reference_shim.backends.microvm.sessions import Sessions
from reference_shim.backends.recorded_output import LineWriter
from reference_shim.errors import BackendError, DeadlineExceeded, FailedPrecondition
from reference_shim.timestamps import now_ns

RECONNECT_TIMEOUT_S = 5.0  # a running QEMU accepts a client on its ports at once
BOOT_TIMEOUT_S = 60.0  # TCG on a busy 2-core machine: a boot is ~3 s, allow for contention
KILLED_EXIT = 137
_READ_BYTES = 64 * 1024
# The agent's answers to a request: ``KIND ID WORDS...`` (README.md, the wire format).
ANSWERS = frozenset({"EXECEND", "STATSEND", "UPDATED", "CREDSEND"})
ASK_TIMEOUT_S = 30.0  # a loaded TCG guest can take seconds to answer


def _wait_for_end(pid: int) -> int | None:
    """Wait for a QEMU an earlier shim process started: not this process's child, so its exit
    status cannot be collected (None)."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    try:
        select.select([descriptor], [], [])
    finally:
        os.close(descriptor)
    return None


def _connect(path: Path, deadline: float) -> socket.socket:
    while True:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(str(path))
            return connection
        except OSError:
            connection.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    reply: list[str] = field(default_factory=list)


class Machine:
    """A booted VM of this shim process: its QEMU, its agent connection, its threads."""

    def __init__(self, files: VmFiles, on_exit: Callable[[], None], nic: Nic | None = None) -> None:
        self.files = files
        self._nic = nic
        self._on_exit = on_exit
        self._process: subprocess.Popen[bytes] | None = None
        self._ctl: socket.socket | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._started = _Pending()
        self._exit_code: int | None = None
        self._finished_at = 0  # when the workload exited, as the agent told
        self._asking = False  # STATUS sent, no answer yet
        self._held_exit: int | None = None  # an EXIT that came while asking
        self._oom_killed = False
        self._error = ""
        self._pid = 0
        self._outputs: list[socket.socket] = []  # the host's ends of stdout and stderr
        self.ended = threading.Event()
        self.left = threading.Event()  # a container's agent left its shared pod VM (DONE)
        self.monitor = Monitor(files.qmp)
        self.sessions = Sessions(files.sockets, self.monitor, self._send)
        self.stdio = WorkloadStdio(self._send, tty=False, stdin_once=False)

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def workload_pid(self) -> int:
        """The workload's pid in the guest, once the agent said ``STARTED`` (else 0)."""
        kind, *rest = self._started.reply or [""]
        return int(rest[0]) if kind == "STARTED" and rest and rest[0].isdigit() else 0

    def boot(
        self, kernel: Path, initramfs: Path, launch: Launch, devices: Iterable[str] = ()
    ) -> None:
        """Start QEMU, connect to its ports, hand the agent the workload; return once it runs."""
        self.files.sockets.mkdir(mode=0o700, exist_ok=True)
        files = self.files
        for path in (files.ctl, files.out, files.err, files.stdin, files.qmp):
            path.unlink(missing_ok=True)
        self.stdio = WorkloadStdio(self._send, launch.tty, launch.stdin_once)
        with (self.files.folder / "qemu.log").open("ab") as stderr:
            self._process = subprocess.Popen(
                qemu_command(
                    self.files, kernel, initramfs, devices, launch.stdin, launch.memory_mib,
                    launch.cpus,
                )
                + (self._nic.qemu_arguments() if self._nic else []),
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, start_new_session=True,
            )  # fmt: skip
        self._pid = self._process.pid
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        self._attach(launch, deadline)
        self._await_start(deadline)

    def _await_start(self, deadline: float) -> None:
        """Wait for the agent's ``STARTED`` (or ``FAILED``) after the spec lines."""
        if not self._started.done.wait(max(deadline - time.monotonic(), 0.1)):
            self.kill(f"the agent did not start the workload within {BOOT_TIMEOUT_S:g}s")
            raise BackendError(f"the VM's agent did not start the workload within "
                               f"{BOOT_TIMEOUT_S:g}s; see {self.files.console}")  # fmt: skip
        kind, *rest = self._started.reply or ["ENDED"]
        if kind != "STARTED":
            why = base64.b64decode(rest[0]).decode(errors="replace") if rest else "it ended"
            raise FailedPrecondition(f"the VM could not start its workload: {why}")

    def reattach(self, pid: int) -> None:
        """Take over the VM an earlier shim process booted (QEMU ``pid``, its ports waiting for
        a client): its output flows on into ``output.log``, and ``STATUS`` asks the agent for
        its workload's state, so an exit the agent could not tell a dead shim is not lost."""
        self._pid = pid
        self._started.done.set()
        self._asking = True
        self._attach(None, time.monotonic() + RECONNECT_TIMEOUT_S)
        self._send("STATUS")

    def _attach(self, launch: Launch | None, deadline: float) -> None:
        """Connect to the ports (output first: the agent holds its workload's exit until ``ctl``
        has a client), record the output, read ``ctl``, and wait for QEMU to end."""
        output = os.open(self.files.output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        pumps: list[threading.Thread] = []
        connected = threading.Event()  # the waiter joins the pumps only once they exist
        waiter = threading.Thread(target=self._wait, args=(pumps, connected, output), daemon=True)
        waiter.start()
        try:
            if self._nic is not None and launch is not None:  # a VM taken over has its tap
                self._nic.attach(deadline)
            outputs = [(_connect(self.files.out, deadline), "stdout")]
            outputs.append((_connect(self.files.err, deadline), "stderr"))
            self._ctl = _connect(self.files.ctl, deadline)
            if launch is not None and launch.stdin:
                self.stdio.connect_stdin(_connect(self.files.stdin, deadline))
        except BackendError as error:  # the tap
            self.kill(str(error))
            connected.set()
            raise
        except OSError as error:
            self.kill(f"QEMU did not open its ports: {error}")
            connected.set()
            raise BackendError(
                f"QEMU did not open its ports: {error}; see {self.files.folder / 'qemu.log'}"
            ) from error
        self._outputs = [connection for connection, _ in outputs]
        pumps += [
            threading.Thread(
                target=self._pump,
                args=(conn, LineWriter(output, self._lock, name), name),
                daemon=True,
            )
            for conn, name in outputs
        ]
        reader = self._ctl.makefile("r", encoding="utf-8", errors="replace")
        threading.Thread(target=self._read_ctl, args=(reader, launch), daemon=True).start()
        for pump in pumps:
            pump.start()
        connected.set()

    def _send(self, line: str) -> None:
        if self._ctl is None:
            raise FailedPrecondition("the VM is not running")
        try:
            self._ctl.sendall(line.encode() + b"\n")
        except OSError as error:
            raise FailedPrecondition(f"the VM is not running ({error})") from error

    def _read_ctl(self, reader: Any, launch: Launch | None) -> None:
        for line in reader:
            kind, _, rest = line.rstrip("\n").partition(" ")  # empty words are values
            if kind == "READY" and launch is not None:
                for spec_line in launch.lines():
                    self._send(spec_line)
            elif kind in {"STARTED", "FAILED"}:
                self._started.reply[:] = [kind, rest]
                self._started.done.set()
            elif kind == "EXIT" and self._asking:  # STATUS tells it with its time, if it can
                self._held_exit = int(rest)
            elif kind == "EXIT":
                self._record_exit(int(rest), 0)
            elif kind == "STATUS":
                self._answered(rest.split(" "))
            elif kind == "SESSIONEND":
                self.sessions.ended(rest)
            elif kind == "OOMKILLED":
                self._oom_killed = True
            elif kind == "DONE":
                self.left.set()
            elif kind in ANSWERS:
                exec_id, _, result = rest.partition(" ")
                pending = self._pending.pop(exec_id, None)
                if pending is not None:
                    pending.reply[:] = result.split(" ")
                    pending.done.set()
        self._started.done.set()

    def _answered(self, status: list[str]) -> None:
        """The agent's answer to ``STATUS`` (``reattach``): an exit with how long ago it was;
        or an exit that came as ``EXIT`` just after the agent looked; or a VM still booting,
        whose workload the dead shim never started: nothing will start it now."""
        self._asking = False
        if status[0] == "exited":  # exited CODE CENTISECONDS_AGO
            self._record_exit(int(status[1]), int(status[2]) * 10_000_000)
        elif self._held_exit is not None:
            self._record_exit(self._held_exit, 0)
        elif status[0] == "created":
            self.kill("the shim that booted this VM died before its workload started")

    def _record_exit(self, code: int, ago_ns: int) -> None:
        """Keep the exit where a restarted shim finds it (``reported.json``), then let the agent
        power off (``ACK``): until then it holds the exit, for this shim or the next."""
        self._exit_code, self._finished_at = code, now_ns() - ago_ns
        status = {"exit_code": code, "finished_at": self._finished_at, "error": "",
                  "oom_killed": self._oom_killed}  # fmt: skip
        with contextlib.suppress(FileNotFoundError):  # the VM was removed meanwhile
            self.files.write_atomically(self.files.reported, json.dumps(status))
        with contextlib.suppress(FailedPrecondition):
            self._send("ACK")

    def _pump(self, connection: socket.socket, writer: LineWriter, stream: str) -> None:
        with connection:
            while chunk := connection.recv(_READ_BYTES):
                writer.feed(chunk)
                self.stdio.feed(stream, chunk)
        writer.finish()

    def _wait(self, pumps: list[threading.Thread], connected: threading.Event, output: int) -> None:
        code = self._until_ended()
        connected.wait()
        for pump in pumps:
            pump.join(5)
        os.close(output)
        self.stdio.ended()
        self.sessions.vm_ended()
        self._let_go()
        exit_code, error = self._exit_code, self._error
        if exit_code is None:
            exit_code = KILLED_EXIT if code is not None and code < 0 else 255
            error = error or f"the VM ended (QEMU exit {code}) before its workload reported an exit"
        finished = self._finished_at or now_ns()
        status = {"exit_code": exit_code, "finished_at": finished, "error": error,
                  "oom_killed": self._oom_killed}  # fmt: skip
        with contextlib.suppress(FileNotFoundError):  # the VM was removed meanwhile
            self.files.write_atomically(self.files.exit, json.dumps(status))
        for pending in list(self._pending.values()):
            pending.done.set()
        self.ended.set()
        self._on_exit()

    def _until_ended(self) -> int | None:
        """Wait for QEMU to end: its exit status, None when it is not this process's child."""
        return self._process.wait() if self._process else _wait_for_end(self._pid)

    def _let_go(self) -> None:
        """The VM has ended: what this end holds of it goes."""
        self.monitor.close()

    def signal(self, name: str) -> None:
        """Send the workload a signal (``TERM``, ``KILL``, ...) through the agent."""
        self._send(f"SIGNAL {name.removeprefix('SIG')}")

    def kill(self, reason: str = "") -> None:
        """Kill QEMU itself: for a VM whose agent does not answer."""
        self._error = reason
        alive = self._process.poll() is None if self._process else not self.ended.is_set()
        if self._pid and alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._pid, signal.SIGKILL)

    def ask(
        self, kind: str, words: Iterable[str] = (), timeout: float = ASK_TIMEOUT_S
    ) -> list[str]:
        """Send the agent ``KIND ID WORDS...`` and return the words of its answer to ID."""
        request_id = secrets.token_hex(8)
        pending = self._pending.setdefault(request_id, _Pending())
        self._send(" ".join((kind, request_id, *words)))
        if not pending.done.wait(timeout):
            self._pending.pop(request_id, None)
            raise DeadlineExceeded(f"the VM's agent did not answer {kind} within {timeout:g}s")
        if not pending.reply:
            raise FailedPrecondition("the VM stopped before its agent answered")
        return pending.reply

    def exec(self, argv: list[str], timeout: float | None) -> ExecResult:
        exec_id = secrets.token_hex(8)
        pending = self._pending.setdefault(exec_id, _Pending())
        limit = max(int(timeout or 0), 0)
        self._send(f"EXEC {exec_id} {limit} {' '.join(b64(word) for word in argv)}")
        if not pending.done.wait(limit + 30 if limit else None):
            raise DeadlineExceeded(f"exec {argv[0]!r} did not end within {limit}s")
        if len(pending.reply) != 3:
            raise FailedPrecondition("the VM stopped while the command ran")
        code, out, err = pending.reply
        return ExecResult(int(code), base64.b64decode(out), base64.b64decode(err))
