"""ExecSync: a command in a running container, its output, exit code and timeout."""

from __future__ import annotations

import time

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CallFailed, CriClient
from harness.expect import refused
from harness.factories import Container, ContainerFactory, Pod
from harness.lookup import unknown_id
from harness.probes import describe, exec_in, exec_ok, exec_outcome, shell_in
from harness.security import secured, uid

MISSING_BINARY = "/no/such/binary"
COMMAND_NOT_FOUND = 127  # POSIX: the exit status of a command that was not found
# Seconds an ExecSync past its timeout may take beyond the timeout (api.proto: "Timeout in
# seconds to stop the command"). Measured 2026-12-06 on a 2-core machine at load 11-13, 20 runs
# each: containerd 1.6.20 median 0.06, max 0.11; reference shim shared-vm median 0.02, max 0.10
# (reject and separate-vms, 10 runs: max 0.11). 2 s leaves room for a slower machine.
EXEC_OVERHEAD = 2.0


@pytest.mark.feature("container.exec-sync.stdout")
def test_exec_sync_returns_stdout_exactly(cri: CriClient, shared_container: Container) -> None:
    result = exec_in(cri, shared_container, "printf", "line one\\nline two\\n\\tand a tab")
    assert (result.stdout, result.stderr, result.exit_code) == (
        b"line one\nline two\n\tand a tab",
        b"",
        0,
    )


@pytest.mark.feature("container.exec-sync.stderr")
def test_exec_sync_returns_stderr_apart_from_stdout(
    cri: CriClient, shared_container: Container
) -> None:
    result = exec_in(cri, shared_container, "sh", "-c", "echo to-out; echo to-err >&2")
    assert (result.stdout, result.stderr) == (b"to-out\n", b"to-err\n")


@pytest.mark.feature("container.exec-sync.exit-code")
@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_exec_sync_returns_the_exit_code_without_an_error(
    cri: CriClient, shared_container: Container, code: int
) -> None:
    assert exec_in(cri, shared_container, "sh", "-c", f"exit {code}").exit_code == code


@pytest.mark.feature("container.exec-sync.large-output")
def test_exec_sync_returns_a_megabyte_of_output_intact(
    cri: CriClient, shared_container: Container
) -> None:
    size = 1024 * 1024
    result = exec_in(cri, shared_container, "sh", "-c", f"head -c {size} /dev/zero | tr '\\0' x")
    assert len(result.stdout) == size, f"got {len(result.stdout)} of {size} bytes"
    assert set(result.stdout) == {ord("x")}


@pytest.mark.feature("container.exec-sync.stdin-closed")
def test_a_command_reading_stdin_sees_end_of_input_at_once(
    cri: CriClient, shared_container: Container
) -> None:
    result = exec_in(cri, shared_container, "sh", "-c", "cat; echo after-eof", timeout=10)
    assert (result.stdout, result.exit_code) == (b"after-eof\n", 0)


@pytest.mark.feature("container.exec-sync.process-context")
def test_exec_runs_with_the_containers_environment_directory_and_user(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(
        shared_pod,
        env={"FROM_CONFIG": "exec sees me"},
        working_dir="/tmp",
        linux=secured(run_as_user=uid(1234), run_as_group=uid(5678)),
    )
    assert shell_in(cri, container, 'echo "$FROM_CONFIG"') == "exec sees me\n"
    assert exec_ok(cri, container, "pwd") == "/tmp\n"
    assert exec_ok(cri, container, "id", "-u") == "1234\n"
    assert exec_ok(cri, container, "id", "-g") == "5678\n"


@pytest.mark.feature("container.exec-sync.timeout")
def test_a_command_that_outlives_the_timeout_is_stopped_and_reported(
    cri: CriClient, shared_container: Container
) -> None:
    timeout = 2
    started = time.monotonic()
    outcome = exec_outcome(cri, shared_container, "sleep", "4321", timeout=timeout)
    took = time.monotonic() - started
    if isinstance(outcome, CallFailed):
        assert outcome.code is grpc.StatusCode.DEADLINE_EXCEEDED, (
            f"ExecSync past its timeout failed with {outcome.code.name}: {outcome.details}; "
            "expected DEADLINE_EXCEEDED (or a non-zero exit code)"
        )
    else:
        assert outcome.exit_code != 0, "ExecSync past its timeout reported success"
    assert timeout - 0.5 <= took <= timeout + EXEC_OVERHEAD, (
        f"ExecSync(timeout={timeout}) returned after {took:.1f}s; it must end the command "
        f"at the timeout and answer within {EXEC_OVERHEAD:g}s of it"
    )
    leftovers = exec_ok(cri, shared_container, "ps", "-o", "args")
    assert "sleep 4321" not in leftovers, f"the timed-out command still runs:\n{leftovers}"


@pytest.mark.feature("container.exec-sync.missing-binary")
def test_exec_of_a_missing_binary_is_an_error_that_names_it(
    cri: CriClient, shared_container: Container
) -> None:
    """A command that cannot start must not pass for one that ran, and the kubelet must be able
    to say why.

    The kubelet (cri-client remote_runtime.go) hands a gRPC error on with its message, reads
    DEADLINE_EXCEEDED as a timed-out probe, and turns a non-zero exit code into "command '...'
    exited with N: <stderr>", without stdout. So two answers are right: a refusal with UNKNOWN
    that names the command, as containerd 1.6 and CRI-O answer when the OCI runtime cannot start
    it ("failed to exec in container: ... exec: "/no/such/binary": stat /no/such/binary: no such
    file or directory"); or exit code 127, the POSIX status of a command not found, with stderr
    naming it.
    """
    outcome = exec_outcome(cri, shared_container, MISSING_BINARY)
    if isinstance(outcome, CallFailed):
        refusal = (outcome.code, MISSING_BINARY in outcome.details)
        assert refusal == (grpc.StatusCode.UNKNOWN, True), (
            f"ExecSync of {MISSING_BINARY} was refused with {outcome.code.name}: "
            f"{outcome.details!r}; expected UNKNOWN with a message naming the command"
        )
    else:
        answer = (outcome.exit_code, MISSING_BINARY in outcome.stderr.decode(errors="replace"))
        assert answer == (COMMAND_NOT_FOUND, True), (
            describe((MISSING_BINARY,), outcome)
            + f"; expected exit {COMMAND_NOT_FOUND} (command not found) with stderr naming it"
        )


@pytest.mark.parametrize(
    "state",
    [
        pytest.param("created", marks=pytest.mark.feature("container.exec-sync.refused-created")),
        pytest.param("exited", marks=pytest.mark.feature("container.exec-sync.refused-exited")),
    ],
)
def test_exec_in_a_container_that_is_not_running_is_refused(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, state: str
) -> None:
    container = make_container(shared_pod, start=state == "exited")
    if state == "exited":
        cri.stop_container(container.id, timeout=0)
    with refused():
        exec_in(cri, container, "true")
    assert cri.container_status(container.id).status.state in (
        api.CONTAINER_CREATED,
        api.CONTAINER_EXITED,
    )


@pytest.mark.feature("container.exec-sync.not-found")
def test_exec_in_an_unknown_container_is_not_found(cri: CriClient) -> None:
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.exec_sync(unknown_id(), ["true"], timeout=5)
