"""The CRI log parser: what the suites accept as the kubelet's log format, and what not."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cri_logs import LogFormatError, LogRecord, assemble, parse_record, read_records


def test_a_record_keeps_nanoseconds_stream_tag_and_text_with_spaces() -> None:
    record = parse_record("2016-10-06T00:17:09.669794202Z stdout F a  line  with spaces")
    assert record == LogRecord(1475713029669794202, "stdout", "F", "a  line  with spaces")


@pytest.mark.parametrize(
    ("stamp", "nanoseconds"),
    [
        ("2026-11-30T01:23:57Z", 1796001837 * 10**9),
        ("2026-11-30T01:23:57.5Z", 1796001837 * 10**9 + 500_000_000),
        ("2026-11-30T02:23:57.000000001+01:00", 1796001837 * 10**9 + 1),
    ],
)
def test_timestamps_may_trim_the_fraction_and_carry_an_offset(stamp: str, nanoseconds: int) -> None:
    assert parse_record(f"{stamp} stderr P x").time_ns == nanoseconds


def test_an_empty_line_of_output_is_a_record_with_empty_text() -> None:
    assert parse_record("2026-11-30T01:23:57.1Z stdout F ").text == ""


@pytest.mark.parametrize(
    "line",
    [
        "hello world",
        "2026-11-30 01:23:57 stdout F x",
        "2026-11-30T01:23:57Z stdin F x",
        "2026-11-30T01:23:57Z stdout X x",
        "2026-11-30T01:23:57.1234567890Z stdout F x",
    ],
)
def test_lines_outside_the_format_are_refused_quoting_them(line: str) -> None:
    with pytest.raises(LogFormatError, match="log line"):
        parse_record(line)


def test_partial_records_join_up_per_stream_and_a_trailing_piece_is_a_line() -> None:
    records = [
        LogRecord(1, "stdout", "P", "first "),
        LogRecord(2, "stderr", "F", "elsewhere"),
        LogRecord(3, "stdout", "F", "line"),
        LogRecord(4, "stdout", "P", "unfinished"),
    ]
    assert assemble(records) == ["first line", "unfinished"]
    assert assemble(records, "stderr") == ["elsewhere"]


def test_a_missing_file_has_no_records_and_a_torn_last_line_is_left_for_later(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.log"
    assert read_records(path) == []
    path.write_text("2026-11-30T01:23:57Z stdout F done\n2026-11-30T01:23:5")
    assert [record.text for record in read_records(path)] == ["done"]
