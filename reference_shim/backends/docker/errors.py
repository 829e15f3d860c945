"""Docker Engine errors as the shim's gRPC-coded errors, saying whose fault each one is.

- The caller's: Docker's 400 (its API validation refused a value), 413, 414 and 431 (the request,
  its URL or its headers too large for the Engine's HTTP server: a huge image name or registry
  password, which travels in the X-Registry-Auth header), and the Engine's 500s whose
  message marks a refusal of the request's content (``INPUT_REFUSALS``): INVALID_ARGUMENT, or
  FAILED_PRECONDITION when the host's state is in the way. The Engine's message goes along.
- The state's: 404 is NOT_FOUND, 409 (a conflict with the object's state) FAILED_PRECONDITION.
- The Engine's or the shim's own: every other answer, INTERNAL with the Engine's status and
  message; an Engine that does not answer, UNAVAILABLE.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import docker.errors
import requests

from reference_shim.backends.docker.host import START_HINT
from reference_shim.errors import (
    BackendError,
    BackendUnavailable,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ShimError,
)

# Docker answers 500 when the refusal comes from the OCI runtime or from a check deep in the
# Engine rather than from its API validation; it turns some of them into 400 by their wording
# (runc's "no such file or directory"), but not all. Each entry is a phrase of such a message,
# seen on Docker 20.10, and the shim's error for it.
INPUT_REFUSALS: tuple[tuple[str, type[ShimError]], ...] = (
    # runc refused the container's config: a sysctl outside the container's namespaces, a
    # cgroup value out of range (cpu shares above 262144), a sysctl value the kernel rejects.
    ("OCI runtime create failed", InvalidArgument),
    # runc refused new resources of a running container (UpdateContainerResources) the same way.
    ("runc did not terminate successfully", InvalidArgument),
    # A device path (CRI ``devices``) the host does not have.
    ("error gathering device information", InvalidArgument),
    # A seccomp profile that is not one (CRI ``seccomp`` localhost profiles).
    ("Decoding seccomp profile failed", InvalidArgument),
    # A user or group (``run_as_username``, ``USER`` of the image) the image does not have.
    ("unable to find user", InvalidArgument),
    ("unable to find group", InvalidArgument),
    # A host port (CRI ``port_mappings``) someone else holds.
    ("port is already allocated", FailedPrecondition),
    ("address already in use", FailedPrecondition),
)


_REQUEST_REFUSALS = frozenset({400, 413, 414, 431})
"""HTTP statuses by which the Engine refuses the request itself: malformed, or too large."""


def explain(error: docker.errors.APIError) -> str:
    return str(error.explanation or error)


def classify(action: str, status: int, message: str) -> ShimError:
    """The shim's error for Docker's answer ``status`` with ``message`` to ``action``."""
    if status in _REQUEST_REFUSALS:
        return InvalidArgument(f"{action}: {message}")
    if status == 409:
        return FailedPrecondition(f"{action}: {message}")
    for phrase, error in INPUT_REFUSALS:
        if phrase in message:
            return error(f"{action}: {message}")
    return BackendError(f"{action}: Docker answered {status}: {message}")


@contextmanager
def docker_errors(action: str) -> Iterator[None]:
    """Re-raise Docker failures of ``action`` with a code that says whose fault it is."""
    try:
        yield
    except ShimError:
        raise
    except docker.errors.NotFound as error:
        raise NotFound(f"{action}: {explain(error)}") from error
    except docker.errors.APIError as error:
        raise classify(action, error.status_code or 500, explain(error)) from error
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as error:
        raise BackendUnavailable(
            f"{action}: Docker Engine does not answer ({error}); {START_HINT}"
        ) from error
