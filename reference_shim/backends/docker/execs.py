"""The exit code of a Docker exec, and whether its command started at all.

Docker may report an exec as still running for a moment after its output ended (more often on
a loaded machine), with no exit code yet; reading it at once would take that for success.
"""

from __future__ import annotations

import time
from typing import Any

EXIT_CODE_WAIT_S = 5.0
_POLL_S = 0.02


def exec_exit_code(api: Any, exec_id: str, wait_s: float = EXIT_CODE_WAIT_S) -> int | None:
    """The exec's exit code once Docker has it; None if it still has none after ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        state = api.exec_inspect(exec_id)
        if not state.get("Running") or time.monotonic() > deadline:
            code = state.get("ExitCode")
            return None if code is None else int(code)
        time.sleep(_POLL_S)


def exec_never_started(api: Any, exec_id: str) -> bool:
    """Docker gives an exec no process (Pid 0) when the OCI runtime could not start its command
    (no such binary, not executable); its exit code 126 is then Docker's, not the command's,
    and the reason went to the exec's stdout."""
    return not api.exec_inspect(exec_id).get("Pid")
