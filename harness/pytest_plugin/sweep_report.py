"""What the end-of-run sweep found, as ``leaks.json`` and the terminal summary.

Three things fail a run here, whatever its tests did: a leak (an object of the run the tests
did not remove), an object the runtime listed although it is not the run's (a SAFETY WARNING:
it ignored the label filter; the object was left alone), and a sweep that could not list at all
(nobody knows what the run left behind).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from harness.json_files import write_json
from harness.ownership import RUN_LABEL
from harness.resources import Sweep

LEAKS_FILE = "leaks.json"


@dataclass(frozen=True)
class SweepReport:
    """The sweep of one run, or why there was none."""

    run_id: str
    sweep: Sweep | None = None
    error: str = ""  # the sweep could not list what the run left

    @property
    def fails_run(self) -> bool:
        return bool(self.error or (self.sweep and (self.sweep.leaks or self.sweep.left_alone)))

    def write(self, report_dir: Path) -> Path:
        leaks = self.sweep.leaks if self.sweep else []
        left_alone = self.sweep.left_alone if self.sweep else []
        return write_json(
            report_dir / LEAKS_FILE,
            {
                "run": self.run_id,
                "sweep_error": self.error,
                "leaks": [asdict(leak) for leak in leaks],
                "left_alone": [asdict(foreign) for foreign in left_alone],
            },
        )

    def summarize(self, terminal: pytest.TerminalReporter) -> None:
        if self.error:
            terminal.write_line(
                f"ERROR: cri-conformance: run {self.run_id}: the sweep could not list what the "
                f"run left on the runtime, so the run fails: {self.error}",
                red=True,
            )
        if self.sweep is None:
            return
        if self.sweep.left_alone:
            terminal.section("cri-conformance SAFETY WARNING", red=True)
            terminal.write_line(
                f"SAFETY WARNING: asked for objects labelled {RUN_LABEL}={self.run_id}, the "
                f"runtime also answered with {len(self.sweep.left_alone)} object(s) that are "
                "not this run's (it ignores the label filter). They were left alone, never "
                "stopped or removed:",
                red=True,
            )
            for foreign in self.sweep.left_alone:
                terminal.write_line(f"  left alone: {foreign.describe()}", red=True)
        if self.sweep.leaks:
            terminal.section("cri-conformance leaks", red=True)
            for leak in self.sweep.leaks:
                terminal.write_line(f"LEAK {leak.describe()}", red=True)
            terminal.write_line(
                f"{len(self.sweep.leaks)} object(s) of run {self.run_id} were left behind"
            )
        elif not self.sweep.left_alone:
            terminal.write_line(
                f"cri-conformance: run {self.run_id}: no pods or containers left behind"
            )
