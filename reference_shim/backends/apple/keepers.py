"""The backend's side of keepers: start one per container start, read what it left, reap it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from reference_shim.backends.apple.cli import AppleCli
from reference_shim.backends.apple.documents import AppleContainer
from reference_shim.backends.apple.errors import CliResult, cli_error
from reference_shim.backends.apple.keeper import KeeperFiles, attach_command
from reference_shim.backends.recorded_output import parse_line
from reference_shim.errors import ShimError

STDIN_LABEL = "io.cri-conformance.shim.apple.stdin"


class Keepers:
    def __init__(self, folder: Path, cli: AppleCli) -> None:
        self.folder = folder
        self._cli = cli
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def files(self, vm_id: str) -> KeeperFiles:
        return KeeperFiles(self.folder / vm_id)

    def launch(self, container: AppleContainer) -> KeeperFiles:
        """Start the keeper of ``container`` (which ``container start --attach``-es it)."""
        files = self.files(container.id)
        shutil.rmtree(files.folder, ignore_errors=True)
        files.folder.mkdir(parents=True)
        command = [
            sys.executable, "-m", "reference_shim.backends.apple.keeper",
            "--cli", self._cli.path, "--dir", str(files.folder), container.id,
        ]  # fmt: skip
        if container.labels.get(STDIN_LABEL) == "true":
            command.append("--stdin")
        if container.tty:
            command.append("--tty")
        with (files.folder / "keeper.stderr").open("wb") as stderr:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                env=self._cli.env, start_new_session=True,  # terminal signals must not reach it
            )  # fmt: skip
        # Written here too, so a reader never sees the folder without a live keeper's pid.
        files.write_atomically(files.pid, str(process.pid))
        with self._lock:
            self._children[container.id] = process
        return files

    def start_failure(self, container_id: str, code: int | None) -> ShimError:
        """The attached CLI ended before the VM ran: its ``Error:`` lines say why."""
        try:
            lines = self.files(container_id).output.read_bytes().split(b"\n")
        except FileNotFoundError:
            lines = []
        records = [parse_line(line) for line in lines]
        stderr = "\n".join(
            r.data.decode(errors="replace") for r in records if r and r.stream == "stderr"
        )
        args = tuple(attach_command(self._cli.path, container_id, stdin=False)[1:])
        return cli_error(f"start VM {container_id}", CliResult(args, code or 1, "", stderr))

    def reap(self) -> None:
        """Collect keepers that ended (ours only: an earlier shim's keeper is not our child)."""
        with self._lock:
            for vm_id, process in list(self._children.items()):
                if process.poll() is not None:
                    del self._children[vm_id]

    def forget(self, vm_id: str) -> None:
        self.reap()
        shutil.rmtree(self.files(vm_id).folder, ignore_errors=True)

    def ended(self, skip: set[str]) -> Iterator[str]:
        """Containers whose keeper recorded an exit, or died without one, not in ``skip``."""
        if not self.folder.exists():
            return
        for folder in self.folder.iterdir():
            files = KeeperFiles(folder)
            if folder.name in skip or not files.pid.exists():
                continue
            if files.exit.exists() or not files.keeper_alive():
                yield folder.name
