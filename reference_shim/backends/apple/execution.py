"""ExecSync through ``container exec``: the command's exit code, output, and a deadline."""

from __future__ import annotations

import signal
import subprocess

from reference_shim.backends.apple.cli import AppleCli
from reference_shim.backends.apple.errors import CliResult, cli_error
from reference_shim.backends.base import ExecResult
from reference_shim.errors import DeadlineExceeded

GRACE_S = 2.0


def exec_sync(cli: AppleCli, vm_id: str, argv: list[str], timeout: float | None) -> ExecResult:
    # Everything after the container id is the command, even arguments that look like flags.
    process = subprocess.Popen(
        cli.command("exec", vm_id, *argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=cli.env, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # The CLI forwards SIGTERM to the command; it has no way to send it SIGKILL.
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        raise DeadlineExceeded(
            f"command {argv!r} did not finish within its timeout of {timeout:g}s; it was sent "
            "SIGTERM (Apple's CLI cannot send SIGKILL to an exec'd process)"
        ) from None
    result = CliResult(
        ("exec", vm_id, *argv), process.returncode, "", stderr.decode(errors="replace")
    )
    # Only the CLI's own refusals name the container; any other failure is the command's.
    refused = (f"container {vm_id} not found", f"container {vm_id} is not running")
    if result.code != 0 and any(result.says(text) for text in refused):
        raise cli_error(f"exec in VM {vm_id}", result)
    return ExecResult(exit_code=process.returncode, stdout=stdout, stderr=stderr)
