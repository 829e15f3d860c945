"""A container's output as the keeper recorded it, followed until the workload has exited."""

from __future__ import annotations

from reference_shim.backends.apple.keeper import KeeperFiles
from reference_shim.backends.recorded_output import RecordedOutput


def recorded_output(files: KeeperFiles, streams: frozenset[str], since: int) -> RecordedOutput:
    def finished() -> bool:
        """Nothing more will be written: the exit is recorded, or no keeper is left to write."""
        return files.exit.exists() or not (files.folder.exists() and files.keeper_alive())

    return RecordedOutput(files.output, finished, streams, since)
