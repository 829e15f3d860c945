"""What state an Apple container is in, from its JSON and from what its keeper recorded.

Apple's JSON knows ``running``/``stopping``/``stopped`` (no "created": a container that never
ran is ``stopped`` without a start time) and no exit code; the keeper knows the exit code.
"""

from __future__ import annotations

import json
import time

from reference_shim.backends.apple.documents import AppleContainer
from reference_shim.backends.apple.keeper import KeeperFiles
from reference_shim.backends.base import VmState, VmStatus
from reference_shim.timestamps import now_ns

EXIT_REPORT_WAIT_S = 5.0  # the attached CLI waits up to 3 s for the last output
_POLL_S = 0.05
LOST_EXIT = (
    "the exit code was lost: the attached `container start` process ended without reporting "
    "it (Apple's CLI keeps no exit codes)"
)


def await_exit(files: KeeperFiles, seconds: float) -> None:
    """Give a live keeper up to ``seconds`` to record the exit it is about to see."""
    deadline = time.monotonic() + seconds
    while not files.exit.exists() and files.keeper_alive() and time.monotonic() < deadline:
        time.sleep(_POLL_S)


def _record_lost_exit(files: KeeperFiles) -> None:
    """No keeper will ever report: settle the exit now, so finished_at stays put."""
    files.folder.mkdir(parents=True, exist_ok=True)
    files.write_atomically(
        files.exit, json.dumps({"exit_code": None, "finished_at": now_ns(), "error": LOST_EXIT})
    )


def container_status(container: AppleContainer, files: KeeperFiles) -> VmStatus:
    exit_record = files.exit_status()
    if exit_record is None and container.state == "stopped" and files.keeper_alive():
        await_exit(files, EXIT_REPORT_WAIT_S)  # the CLI saw the stop; the code is on its way
        exit_record = files.exit_status()
    started = files.started_at() or container.started_at
    base = VmStatus(
        vm_id=container.id, state=VmState.RUNNING, started_at=started, ip=container.ip,
        labels=container.labels,
    )  # fmt: skip
    keeper_gone = not files.keeper_alive()
    if exit_record is None and container.state == "stopped" and started and keeper_gone:
        _record_lost_exit(files)
        exit_record = files.exit_status()
    if exit_record is not None:
        code = exit_record.get("exit_code")
        return VmStatus(
            vm_id=container.id, state=VmState.EXITED, exit_code=None if code is None else int(code),
            started_at=started, finished_at=int(exit_record.get("finished_at") or now_ns()),
            error=str(exit_record.get("error") or ""), labels=container.labels,
        )  # fmt: skip
    if container.state == "stopped" and not started:
        return VmStatus(vm_id=container.id, state=VmState.CREATED, labels=container.labels)
    return base  # running, stopping, unknown, or stopped with its keeper about to report
