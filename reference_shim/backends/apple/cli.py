"""Running Apple's ``container`` CLI: one subprocess per call, with a deadline, JSON out."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from typing import Any

from reference_shim.backends.apple.errors import START_HINT, CliResult, cli_error, is_not_found
from reference_shim.errors import BackendError, BackendUnavailable

CALL_TIMEOUT_S = 120.0
PULL_TIMEOUT_S = 900.0


class AppleCli:
    """The CLI at ``path``; ``env`` is added to this process's environment for each call."""

    def __init__(self, path: str = "container", env: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.env = {**os.environ, **(env or {})}

    def command(self, *args: str) -> list[str]:
        return [self.path, *args]

    def call(self, *args: str, timeout: float = CALL_TIMEOUT_S) -> CliResult:
        """Run one command and return what it did, failed or not."""
        try:
            done = subprocess.run(
                self.command(*args), capture_output=True, timeout=timeout, env=self.env,
                stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        except FileNotFoundError:
            raise BackendUnavailable(
                f"Apple's container CLI {self.path!r} is not installed or not on PATH; install "
                "it from https://github.com/apple/container/releases (macOS 15+ on Apple silicon) "
                "or pass --container-cli PATH"
            ) from None
        except subprocess.TimeoutExpired:
            raise BackendError(
                f"`{self.path} {' '.join(args)}` did not finish within {timeout:g}s; {START_HINT}"
                " if the services hang"
            ) from None
        return CliResult(
            args=args,
            code=done.returncode,
            stdout=done.stdout.decode(errors="replace"),
            stderr=done.stderr.decode(errors="replace"),
        )

    def run(self, action: str, *args: str, timeout: float = CALL_TIMEOUT_S) -> CliResult:
        """Run one command; a failure raises the error its message classifies as."""
        result = self.call(*args, timeout=timeout)
        if result.code != 0:
            raise cli_error(action, result)
        return result

    def json(self, action: str, *args: str, timeout: float = CALL_TIMEOUT_S) -> Any:
        return self.parse_json(action, self.run(action, *args, timeout=timeout))

    def json_unless_missing(self, action: str, *args: str) -> Any | None:
        """The JSON a lookup prints, or None when what it looks up does not exist."""
        result = self.call(*args)
        if is_not_found(result):
            return None
        if result.code != 0:
            raise cli_error(action, result)
        return self.parse_json(action, result)

    def parse_json(self, action: str, result: CliResult) -> Any:
        args = result.args
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as error:
            raise BackendError(
                f"{action}: `container {' '.join(args)}` printed no JSON ({error}): "
                f"{result.stdout[:200]!r}"
            ) from None
