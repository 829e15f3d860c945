"""The run's folder: what every process of one run shares (the embedded shim's record and
state, the run's registry storage, its setup flags).

It is not in pytest's basetemp. pytest gives up its lock on the basetemp in its own
``pytest_sessionfinish``, before the run's fixtures are torn down and its sweep is done, and
any other pytest session that ends meanwhile deletes the basetemps beyond its three newest:
with sessions side by side (CI's matrix columns, a shared CI machine) a run lost its shim's
record at its end. So the run's controller makes a folder of its own in the temp folder,
records itself in it as the owner, and removes it at the end; a folder whose owner ended
without removing it (a killed run) is removed by the next run that starts.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from harness.processes import StartedProcess

PREFIX = "cri-conformance-run-"
OWNER = "owner.json"


def make() -> Path:
    """A new run folder owned by this process (the run's controller)."""
    remove_abandoned()
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    owner = StartedProcess.of(os.getpid())
    (folder / OWNER).write_text(json.dumps({"pid": owner.pid, "started_at": owner.started_at}))
    return folder


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def remove_abandoned(root: Path | None = None) -> None:
    """Remove the run folders whose owner has ended (pid and start time, ``processes``); never
    one whose owner runs, or one without an owner yet (a run making it just now)."""
    for folder in (root or Path(tempfile.gettempdir())).glob(f"{PREFIX}*"):
        try:
            owner = json.loads((folder / OWNER).read_text())
            process = StartedProcess(int(owner["pid"]), float(owner["started_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if process.current() is None:
            remove(folder)
