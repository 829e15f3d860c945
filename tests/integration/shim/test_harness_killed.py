"""A shim the harness started does not outlive the harness when it is killed (SIGKILL: no
cleanup of its own runs): the launcher tells the shim to stop with the harness's process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil

HARNESS = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from reference_shim.launcher import ShimLauncher

    launcher = ShimLauncher(state_dir=Path(sys.argv[1])).start()
    print(launcher.pid, launcher.socket, flush=True)
    time.sleep(600)
    """
)


def test_a_shim_stops_when_the_harness_that_started_it_is_killed(tmp_path: Path) -> None:
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(tmp_path / "state")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert harness.stdout is not None
    pid, socket = harness.stdout.readline().split()
    shim = psutil.Process(int(pid))
    try:
        assert shim.is_running()
        os.kill(harness.pid, signal.SIGKILL)
        harness.wait()
        gone, _ = psutil.wait_procs([shim], timeout=30)
        assert gone, "the shim still runs 30 s after the harness that started it was killed"
        assert not Path(socket).exists(), "the shim did not stop cleanly (its socket is left)"
    finally:
        if shim.is_running():
            shim.kill()
        harness.kill()
        shutil.rmtree(Path(socket).parent, ignore_errors=True)  # the killed harness's workdir
