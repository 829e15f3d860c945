"""The contract's output records and stats."""

from __future__ import annotations

import dataclasses
import time

from contract_drivers import Driver, Script

from reference_shim.backends.base import OutputRecord, VmStats

LINES = (("stdout", "out-1"), ("stderr", "err-1"), ("stdout", "out-2"))


def records(driver: Driver, vm_id: str, stream: str) -> list[OutputRecord]:
    output = driver.backend.read_output(vm_id, stream, since=0)
    try:
        return list(output)  # it ends: the workload has exited
    finally:
        output.close()


def test_output_comes_back_as_records_per_stream_in_order(driver: Driver) -> None:
    started = time.time_ns()
    vm_id = driver.run(Script(lines=LINES, exit_code=0))
    assert driver.exited(vm_id) == 0
    stdout, stderr = records(driver, vm_id, "stdout"), records(driver, vm_id, "stderr")
    assert [(r.stream, r.data, r.partial) for r in stdout] == [
        ("stdout", b"out-1", False),
        ("stdout", b"out-2", False),
    ]
    assert [(r.stream, r.data, r.partial) for r in stderr] == [("stderr", b"err-1", False)]
    assert stdout[0].timestamp <= stdout[1].timestamp
    # Docker's clock is its own and its timestamps can be a little behind the test's.
    assert all(r.timestamp > started - 1_000_000_000 for r in [*stdout, *stderr])


def test_output_since_a_record_leaves_out_the_ones_before(driver: Driver) -> None:
    vm_id = driver.run(Script(lines=LINES, exit_code=0))
    driver.exited(vm_id)
    first, second = records(driver, vm_id, "stdout")
    later = list(driver.backend.read_output(vm_id, "stdout", since=second.timestamp))
    assert [r.data for r in later] == [b"out-2"]
    assert first.timestamp <= second.timestamp


def test_stats_of_a_running_vm_have_every_figure(driver: Driver) -> None:
    vm_id = driver.run(Script())
    stats = driver.backend.stats(vm_id)
    assert isinstance(stats, VmStats)
    figures = dataclasses.asdict(stats)
    assert all(isinstance(value, int) and value >= 0 for value in figures.values()), figures
    assert abs(stats.timestamp - time.time_ns()) < 60 * 1_000_000_000
    assert stats.memory_usage > 0
