"""The keeper: one small process per started container, holding ``container start --attach``.

Apple's CLI stores no exit codes; only a foreground CLI process learns one, by exiting with
the workload's code. And while attached, the runtime writes the workload's output to the
attached pipes before its own log file, so they must be drained for the container's whole
life. The keeper does both, in its own session (terminal signals never reach it) so it
outlives a shim that restarts or dies:

- stdout and stderr, kept apart, as CRI log lines (``<RFC3339Nano> <stream> <P|F> <text>``) in
  ``output.log``, stamped when read: Apple's ``stdio.log`` has no stream tags and no times;
- the exit code and time in ``exit.json`` once the CLI has ended and both pipes are drained.

Run as ``python -m reference_shim.backends.apple.keeper --cli PATH --dir DIR ID [--stdin]
[--tty]``; the backend starts it, nothing else should.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from reference_shim.backends.recorded_output import LineWriter, RecordedFiles
from reference_shim.timestamps import now_ns

_READ_BYTES = 64 * 1024


@dataclass(frozen=True)
class KeeperFiles(RecordedFiles):
    """What one container's keeper leaves behind, in a folder of the backend's state."""

    @property
    def pid(self) -> Path:
        return self.folder / "keeper.pid"

    def keeper_alive(self) -> bool:
        try:
            pid = int(self.pid.read_text())
        except (FileNotFoundError, ValueError):
            return False
        try:  # a keeper this process started is a zombie until reaped: reap it here
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return False
        except ChildProcessError:
            pass  # not our child (an earlier shim's keeper)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _drain(pipe: IO[bytes], writer: LineWriter) -> None:
    while chunk := os.read(pipe.fileno(), _READ_BYTES):
        writer.feed(chunk)
    writer.finish()


def attach_command(cli: str, container_id: str, stdin: bool) -> list[str]:
    return [cli, "start", "--attach", *(["--interactive"] if stdin else []), container_id]


def keep(cli: str, container_id: str, files: KeeperFiles, stdin: bool, tty: bool) -> int:
    """Run the attached CLI to its end; return the workload's exit code (-1 if unknown)."""
    files.folder.mkdir(parents=True, exist_ok=True)
    files.write_atomically(files.pid, str(os.getpid()))
    fd = os.open(files.output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    lock = threading.Lock()
    # An open stdin the keeper never writes: the workload's stdin stays open, as CRI's stdin
    # asks, with nothing attached. With a TTY the CLI puts its stdin in raw mode: a pty.
    held: int | None = None
    stdin_source: int = subprocess.DEVNULL
    if stdin:
        if tty:
            held, stdin_source = os.openpty()
        else:
            stdin_source, held = os.pipe()
    try:
        process = subprocess.Popen(
            attach_command(cli, container_id, stdin),
            stdin=stdin_source, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
    except OSError as error:
        LineWriter(fd, lock, "stderr").feed(f"Error: cannot run {cli}: {error}\n".encode())
        files.write_atomically(files.exit, json.dumps({"exit_code": None, "error": str(error)}))
        return -1
    assert process.stdout is not None
    assert process.stderr is not None
    drains = [
        threading.Thread(target=_drain, args=(pipe, LineWriter(fd, lock, stream)))
        for pipe, stream in ((process.stdout, "stdout"), (process.stderr, "stderr"))
    ]
    for drain in drains:
        drain.start()
    code = process.wait()
    for drain in drains:
        drain.join()
    finished: dict[str, object] = {"exit_code": code, "finished_at": now_ns()}
    if code < 0:  # the CLI itself was killed; the workload's own code is unknown
        finished["exit_code"] = None
        finished["error"] = f"the attached CLI was killed by signal {-code}; exit code unknown"
    files.write_atomically(files.exit, json.dumps(finished))
    if held is not None:
        os.close(held)
    os.close(fd)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_shim.backends.apple.keeper")
    parser.add_argument("--cli", required=True)
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--stdin", action="store_true")
    parser.add_argument("--tty", action="store_true")
    parser.add_argument("container_id")
    args = parser.parse_args(argv)
    keep(args.cli, args.container_id, KeeperFiles(args.dir), args.stdin, args.tty)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
