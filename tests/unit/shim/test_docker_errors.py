"""Docker's answers as gRPC codes: the caller's mistakes are INVALID_ARGUMENT (or
FAILED_PRECONDITION) with the Engine's words, and only the Engine's or the shim's own faults are
INTERNAL. The messages are Docker 20.10's, recorded on this project's machines."""

from __future__ import annotations

import docker.errors
import grpc
import pytest
import requests

from reference_shim.backends.docker.errors import docker_errors
from reference_shim.errors import ShimError

BOGUS_SYSCTL = (
    'failed to create shim task: OCI runtime create failed: runc create failed: sysctl "foo.bar" '
    "is not in a separate kernel namespace: unknown"
)


def docker_error(status: int, explanation: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError("Docker refused", response, explanation=explanation)


@pytest.mark.parametrize(
    ("status", "explanation", "code"),
    [
        (500, BOGUS_SYSCTL, grpc.StatusCode.INVALID_ARGUMENT),
        (
            500,
            "failed to create shim task: OCI runtime create failed: runc create failed: unable "
            "to start container process: error during container init: error setting cgroup "
            "config for procHooks process: the maximum allowed cpu-shares is 262144: unknown",
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            500,
            "Cannot update container e92dea8b5247: runc did not terminate successfully: exit "
            "status 1: the maximum allowed cpu-shares is 262144",
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            500,
            'error gathering device information while adding custom device "/dev/nope": no such '
            "file or directory",
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            500,
            "Decoding seccomp profile failed: invalid character '/' looking for beginning of value",
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            500,
            "driver failed programming external connectivity on endpoint x: Bind for "
            "0.0.0.0:8080 failed: port is already allocated",
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        (
            500,
            "unable to find user nosuchuser: no matching entries in passwd file",
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (400, "Minimum memory limit allowed is 6MB", grpc.StatusCode.INVALID_ARGUMENT),
        # A PullImage password of a few hundred KiB, in the X-Registry-Auth header (fuzz).
        (431, "431 Request Header Fields Too Large", grpc.StatusCode.INVALID_ARGUMENT),
        (409, "container is not running", grpc.StatusCode.FAILED_PRECONDITION),
        (500, "write /var/lib/docker/tmp: no space left on device", grpc.StatusCode.INTERNAL),
        (503, "the Engine is shutting down", grpc.StatusCode.INTERNAL),
    ],
)
def test_docker_errors_say_whose_fault_they_are(
    status: int, explanation: str, code: grpc.StatusCode
) -> None:
    with pytest.raises(ShimError) as raised, docker_errors("start VM 0123456789ab"):
        raise docker_error(status, explanation)
    error = raised.value
    assert error.code == code
    assert str(error).startswith("start VM 0123456789ab: ")
    assert explanation in str(error), "the Engine's own message goes to the client"
