"""Container logs in the CRI log format, at log_directory/log_path, and ReopenContainerLog.

The kubelet reads these files itself, so their format is part of the contract:
``<RFC3339Nano> <stdout|stderr> <P|F> <text>``.
"""

from __future__ import annotations

import time

import grpc
import pytest

from harness.client import CallFailed, CriClient
from harness.cri_logs import (
    LogRecord,
    assemble,
    log_file,
    read_records,
    wait_for_records,
)
from harness.expect import answer_or_refusal
from harness.factories import ContainerFactory, Pod
from harness.waiting import wait_for_exit

CLOCK_SLACK_NS = 2 * 10**9
COUNTER = "i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.05; done"
NOT_RUNNING_CODES = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.FAILED_PRECONDITION)


def finished_records(
    cri: CriClient, pod: Pod, make_container: ContainerFactory, script: str
) -> list[LogRecord]:
    """The log records of a container that ran ``script`` to the end."""
    container = make_container(pod, command=["sh", "-c", script])
    wait_for_exit(cri, container.id)
    return read_records(log_file(container))


def numbers(records: list[LogRecord]) -> list[int]:
    return [int(record.text.removeprefix("line-")) for record in records]


@pytest.mark.feature("container.logs.format")
def test_a_line_on_stdout_is_one_full_record_with_a_current_timestamp(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    before = time.time_ns()
    records = finished_records(cri, shared_pod, make_container, "echo hello world")
    after = time.time_ns()
    assert [(r.stream, r.tag, r.text) for r in records] == [("stdout", "F", "hello world")]
    stamp = records[0].time_ns
    assert before - CLOCK_SLACK_NS <= stamp <= after + CLOCK_SLACK_NS, (
        f"the record's timestamp {stamp} is not the time of writing [{before}, {after}]"
    )


@pytest.mark.feature("container.logs.stderr")
def test_a_line_on_stderr_is_tagged_stderr(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    records = finished_records(cri, shared_pod, make_container, "echo to-stderr >&2")
    assert [(r.stream, r.tag, r.text) for r in records] == [("stderr", "F", "to-stderr")]


@pytest.mark.feature("container.logs.order")
def test_lines_are_recorded_in_order_with_non_decreasing_timestamps(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    records = finished_records(cri, shared_pod, make_container, "seq 1 300")
    assert [r.text for r in records] == [str(n) for n in range(1, 301)]
    assert {(r.stream, r.tag) for r in records} == {("stdout", "F")}
    stamps = [r.time_ns for r in records]
    assert stamps == sorted(stamps), "timestamps go backwards"


@pytest.mark.feature("container.logs.empty-lines")
def test_empty_lines_are_kept_as_empty_full_records(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    records = finished_records(cri, shared_pod, make_container, "printf 'a\\n\\n\\nb\\n'")
    assert [(r.tag, r.text) for r in records] == [("F", "a"), ("F", ""), ("F", ""), ("F", "b")]


@pytest.mark.feature("container.logs.long-line")
def test_a_line_longer_than_16_kib_is_split_into_partial_records_that_join_up(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    expected = "".join(str(n) for n in range(1, 8001))  # 28893 characters, no repeats
    records = finished_records(cri, shared_pod, make_container, "seq 1 8000 | tr -d '\\n'; echo")
    assert assemble(records) == [expected]
    tags = [r.tag for r in records]
    assert tags == ["P"] * (len(tags) - 1) + ["F"], (
        f"a long line's pieces must be P records ended by one F record; tags were {tags}"
    )


@pytest.mark.feature("container.logs.partial-at-exit")
def test_output_without_a_final_newline_is_a_partial_record(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    records = finished_records(cri, shared_pod, make_container, "echo done; printf 'no newline'")
    assert [(r.tag, r.text) for r in records] == [("F", "done"), ("P", "no newline")]


@pytest.mark.feature("container.logs.reopen")
def test_after_reopen_new_lines_go_to_a_new_file_and_the_moved_file_keeps_the_old(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, command=["sh", "-c", COUNTER])
    path = log_file(container)
    wait_for_records(path, lambda found: len(found) >= 3, "the first lines")
    moved = path.with_name(path.name + ".moved")
    path.rename(moved)

    cri.reopen_container_log(container.id)
    assert path.exists(), "ReopenContainerLog did not create a new log file"
    first_new = wait_for_records(path, lambda found: len(found) >= 3, "lines after reopen")
    old = read_records(moved)
    wait_for_records(path, lambda found: len(found) >= len(first_new) + 10, "more new lines")
    assert read_records(moved) == old, "lines still go to the moved file after reopen"
    new = read_records(path)
    assert numbers(old) + numbers(new) == list(range(1, len(old) + len(new) + 1)), (
        "lines were lost or repeated across the reopen: old file ends at "
        f"{numbers(old)[-1]}, new file starts at {numbers(new)[0]}"
    )


@pytest.mark.feature("container.logs.reopen-not-running")
def test_reopening_the_log_of_an_exited_container_is_refused_or_creates_the_file(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    """api.proto: "If the container is not running, container runtime can choose to either
    create a new log file and return nil, or return an error. Once it returns error, new
    container log file MUST NOT be created." The kubelet relies on the second half: after a
    failed reopen it renames the rotated file back (container_log_manager.go rotateLatestLog).

    The refusal must say the container is not running, not something false: containerd 1.6 and
    CRI-O answer UNKNOWN ("container is not running"); FAILED_PRECONDITION is gRPC's code for a
    call the object's state does not allow. NOT_FOUND, INVALID_ARGUMENT or INTERNAL would
    misreport an existing container and a valid request.
    """
    container = make_container(shared_pod, command=["echo", "only line"])
    wait_for_exit(cri, container.id)
    path = log_file(container)
    moved = path.with_name(path.name + ".moved")
    path.rename(moved)
    old = read_records(moved)
    outcome = answer_or_refusal(lambda: cri.reopen_container_log(container.id))
    if isinstance(outcome, CallFailed):
        assert outcome.code in NOT_RUNNING_CODES, (
            f"ReopenContainerLog of an exited container was refused with {outcome.code.name}: "
            f"{outcome.details!r}; expected UNKNOWN or FAILED_PRECONDITION (not running)"
        )
        assert not path.exists(), "ReopenContainerLog failed yet created a new log file"
    else:
        assert path.exists(), "ReopenContainerLog succeeded without creating a new log file"
    assert read_records(moved) == old, "the moved log file changed"
