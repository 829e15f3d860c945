"""Run folders: a run removes the folders of runs that ended without removing theirs, only those."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness import run_folder
from harness.processes import StartedProcess


def folder_owned_by(root: Path, name: str, process: StartedProcess | None) -> Path:
    folder = root / f"{run_folder.PREFIX}{name}"
    folder.mkdir()
    (folder / "shim-state").mkdir()
    if process is not None:
        owner = {"pid": process.pid, "started_at": process.started_at}
        (folder / run_folder.OWNER).write_text(json.dumps(owner))
    return folder


def ended_process() -> StartedProcess:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    identity = StartedProcess.of(child.pid)
    child.wait()
    return identity


def test_only_the_folders_of_ended_owners_are_removed(tmp_path: Path) -> None:
    running = folder_owned_by(tmp_path, "running", StartedProcess.of(os.getpid()))
    folder_owned_by(tmp_path, "ended", ended_process())
    being_made = folder_owned_by(tmp_path, "being-made", None)
    # this process's pid, but another start time: the pid was reused, its owner has ended
    folder_owned_by(tmp_path, "reused", StartedProcess(os.getpid(), 1.0))
    other = tmp_path / "someone-elses"
    other.mkdir()
    run_folder.remove_abandoned(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [running.name, being_made.name, other.name]
    )


def test_a_new_folder_names_its_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = run_folder.make()
    owner = json.loads((folder / run_folder.OWNER).read_text())
    assert folder.parent == tmp_path
    assert StartedProcess(owner["pid"], owner["started_at"]).current() is not None
    run_folder.remove(folder)
    assert not folder.exists()
