"""VMs that outlive their shim: found again, by their QEMU pid files, when the shim restarts.

A VM does not depend on the shim process that booted it: QEMU runs in a session of its own, its
ports are unix sockets it listens on, and the agent keeps running while no host is connected
(it waits for one, and holds what it has to say; ``guest/init.sh``). A restarted shim takes
each started VM of its instance over again (``Machine.reattach``): it connects to the ports, its
output flows on into the VM's ``output.log`` (and from there into the CRI log), and ``STATUS``
asks the agent for the workload's state, so an exit that happened while no shim was there is
reported with its real code and time. The agent powers off only once a shim has kept the exit
(``ACK``). A VM whose QEMU ended meanwhile otherwise (killed, or crashed) could tell nobody its
exit: it reads as exited 255, with the reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from signal import SIGKILL

from reference_shim.backends.microvm.machine import Machine
from reference_shim.backends.microvm.qemu import VmFiles
from reference_shim.backends.microvm.shares import stop_daemon
from reference_shim.errors import ShimError
from reference_shim.timestamps import now_ns

log = logging.getLogger(__name__)
LOST = "the VM's QEMU ended while no shim process watched it: its workload's exit is unknown"


def running_qemu(files: VmFiles) -> int | None:
    """The pid of the VM's QEMU if it runs: from its pid file, and only while that pid's
    command line names this VM's console file (pids are reused; a shared pod VM has no disk)."""
    try:
        pid = int(files.pid.read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ValueError):
        return None
    return pid if str(files.console).encode() in command else None


def kill_orphan(files: VmFiles) -> None:
    """Kill the QEMU an earlier shim process started for this VM, if it still runs."""
    pid = running_qemu(files)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, SIGKILL)


def record_end(files: VmFiles) -> None:
    """The exit of a VM (or container) no shim process watches any more: the one its agent
    reported, if it reached a shim that then died, else lost."""
    try:
        reported = files.reported.read_text()
    except FileNotFoundError:
        reported = json.dumps({"exit_code": 255, "finished_at": now_ns(), "error": LOST})
    files.write_atomically(files.exit, reported)


def reattach(
    files: VmFiles, on_exit: Callable[[], None], kind: type[Machine] = Machine
) -> Machine | None:
    """The started VM in ``files``, taken over as a ``kind``; None when its QEMU no longer runs
    (its exit is then recorded as lost, and its virtiofs daemon, if one is left, stopped)."""
    pid = running_qemu(files)
    if pid is None:
        stop_daemon(files)
        record_end(files)
        return None
    machine = kind(files, on_exit)
    try:
        machine.reattach(pid)
    except ShimError as error:  # its QEMU ended meanwhile: the waiter records that
        log.warning("VM %s: cannot take it over again: %s", files.folder.name[:12], error)
    return machine
