"""Apple CLI failures as the shim's gRPC-coded errors.

The CLI prints ``Error: <text>`` on stderr and exits 1 for every failure (64 for a command
line it cannot parse); the text is not machine-coded, so it is classified by substring.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference_shim.errors import (
    AlreadyExists,
    BackendError,
    BackendUnavailable,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ShimError,
    Unimplemented,
)

START_HINT = (
    "start Apple's container services with `container system start --enable-kernel-install`"
)
USAGE_EXIT = 64

# First match wins; the texts are the CLI's own (docs/apple-backend.md lists where each is seen).
_CLASSES: tuple[tuple[str, type[ShimError]], ...] = (
    ("container system start", BackendUnavailable),  # apiserver not running (XPC failure)
    ("requires macOS 26", Unimplemented),
    ("minimum memory amount", Unimplemented),
    ("is not a valid container ID", InvalidArgument),
    ("invalid label format", InvalidArgument),
    ("already exist", AlreadyExists),  # "already exists: <id>", "hostname(s) already exist"
    ("is running and can not be deleted", FailedPrecondition),
    ("is not running", FailedPrecondition),
    ("container is stopped", FailedPrecondition),
    ("attach is currently unsupported", FailedPrecondition),
    ("not found", NotFound),  # container/image "not found", "notFound: ..."
    ("notFound", NotFound),
    ("no such container", NotFound),
    ("404 Not Found", NotFound),  # image missing in the registry
    ("401 Unauthorized", NotFound),  # Docker Hub's answer for a repository that does not exist
)


@dataclass(frozen=True)
class CliResult:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def message(self) -> str:
        """The CLI's error lines, without the ``Error: `` prefix (stderr may hold warnings too)."""
        errors = [line for line in self.stderr.splitlines() if line.startswith("Error: ")]
        text = "; ".join(line.removeprefix("Error: ") for line in errors)
        return text or self.stderr.strip() or f"exit code {self.code}, no message"

    def says(self, fragment: str) -> bool:
        return fragment in self.stderr


def error_class(result: CliResult) -> type[ShimError]:
    if result.code == USAGE_EXIT:
        return BackendError  # the shim built a command line this CLI does not take
    for fragment, found in _CLASSES:
        if result.says(fragment):
            return found
    return BackendError


def cli_error(action: str, result: CliResult) -> ShimError:
    """The error to raise for a failed CLI call made to do ``action``."""
    found = error_class(result)
    if result.code == USAGE_EXIT:
        return BackendError(
            f"{action}: Apple's container CLI refused the command line `{' '.join(result.args)}` "
            f"(exit 64): {result.message}; the shim and this CLI version disagree"
        )
    if found is BackendUnavailable:
        return BackendUnavailable(f"{action}: {result.message}; {START_HINT}")
    if found is BackendError:
        return BackendError(f"{action}: Apple's container CLI failed: {result.message}")
    return found(f"{action}: {result.message}")


def is_not_found(result: CliResult) -> bool:
    return result.code != 0 and error_class(result) is NotFound
