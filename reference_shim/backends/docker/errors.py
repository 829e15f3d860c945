"""Docker Engine errors as the shim's gRPC-coded errors."""

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


def explain(error: docker.errors.APIError) -> str:
    return str(error.explanation or error)


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
        status = error.status_code or 500
        if status == 400:
            raise InvalidArgument(f"{action}: {explain(error)}") from error
        if status == 409:
            raise FailedPrecondition(f"{action}: {explain(error)}") from error
        raise BackendError(f"{action}: Docker answered {status}: {explain(error)}") from error
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as error:
        raise BackendUnavailable(
            f"{action}: Docker Engine does not answer ({error}); {START_HINT}"
        ) from error
