"""TSV timelines: header evolution, replacement, trimming, atomic writes."""

import datetime as dt
import os

import pytest

from reportupdater import timeline as tl
from reportupdater.errors import TimelineError
from reportupdater.intervals import Granularity, Interval
from reportupdater.results import IntervalRows

DAYS = Granularity.DAYS


def rows(day, header, *data):
    interval = Interval(dt.datetime(2026, 11, day), DAYS)
    return IntervalRows(interval, tuple(header), tuple(tuple(r) for r in data))


def write(path, text):
    path.write_text(text)
    return path


def test_new_columns_are_added_and_vanished_ones_kept_at_the_end(tmp_path):
    path = write(tmp_path / "r.tsv",
                 "date\tb\tz\ta\n2026-11-01\t1\t9\t2\n2026-11-02\t3\t8\t4\n")
    old = tl.read_timeline(path, DAYS)
    merged = tl.merge(old, [rows(3, ["date", "c", "a"], ["2026-11-03", "5", "6"])])
    tl.write_timeline(path, merged)
    assert path.read_text() == (
        "date\tc\ta\tb\tz\n"
        "2026-11-01\t\t2\t1\t9\n"
        "2026-11-02\t\t4\t3\t8\n"
        "2026-11-03\t5\t6\t\t\n")


def test_the_first_column_stays_the_date_when_renamed(tmp_path):
    path = write(tmp_path / "r.tsv", "date\tn\n2026-11-01\t1\n")
    merged = tl.merge(tl.read_timeline(path, DAYS), [rows(2, ["day", "n"], ["2026-11-02", "2"])])
    assert merged.header == ["day", "n"]
    assert tl.render(merged) == "day\tn\n2026-11-01\t1\n2026-11-02\t2\n"


def test_several_rows_per_date_keep_their_order_and_are_replaced_together(tmp_path):
    path = write(tmp_path / "r.tsv", "date\tk\tn\n2026-11-01\tb\t1\n2026-11-01\ta\t2\n"
                                      "2026-11-02\tz\t3\n")
    merged = tl.merge(tl.read_timeline(path, DAYS),
                      [rows(1, ["date", "k", "n"], ["2026-11-01", "y", "7"],
                            ["2026-11-01", "x", "8"])])
    assert tl.render(merged) == ("date\tk\tn\n2026-11-01\ty\t7\n2026-11-01\tx\t8\n"
                                 "2026-11-02\tz\t3\n")


def test_rows_are_written_sorted_by_date_and_none_is_empty(tmp_path):
    merged = tl.merge(None, [rows(5, ["date", "n"], ["2026-11-05", ""]),
                             rows(2, ["date", "n"], ["2026-11-02", "x\ty"])])
    path = tmp_path / "r.tsv"
    tl.write_timeline(path, merged)
    assert path.read_text() == 'date\tn\n2026-11-02\t"x\ty"\n2026-11-05\t\n'
    # A quoted field round-trips, and the fast date reader copes with it.
    assert tl.read_timeline(path, DAYS).rows["2026-11-02"] == [["2026-11-02", "x\ty"]]
    assert tl.read_labels(path, DAYS) == {"2026-11-02", "2026-11-05"}


def test_trim_before_drops_old_rows():
    merged = tl.merge(None, [rows(d, ["date", "n"], [f"2026-11-0{d}", str(d)])
                             for d in (1, 2, 3)])
    assert tl.trim_before(merged, "2026-11-02") == 1
    assert sorted(merged.rows) == ["2026-11-02", "2026-11-03"]


def test_reads_files_written_by_the_original_with_crlf(tmp_path):
    path = write(tmp_path / "r.tsv", "")
    path.write_bytes(b"date\tn\r\n2016-01-01\t5\r\n2016-01-02\t6\r\n")
    assert tl.read_labels(path, DAYS) == {"2016-01-01", "2016-01-02"}
    assert tl.read_timeline(path, DAYS).rows["2016-01-02"] == [["2016-01-02", "6"]]


def test_a_corrupt_date_is_an_error_naming_file_and_line(tmp_path):
    path = write(tmp_path / "r.tsv", "date\tn\n2026-11-01\t1\nnot-a-date\t2\n")
    with pytest.raises(TimelineError, match=r"r\.tsv:3: first column 'not-a-date'"):
        tl.read_timeline(path, DAYS)
    with pytest.raises(TimelineError, match="not-a-date"):
        tl.read_labels(path, DAYS)


def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = write(tmp_path / "r.tsv", "date\tn\n2026-11-01\t1\n")
    merged = tl.merge(tl.read_timeline(path, DAYS), [rows(2, ["date", "n"], ["2026-11-02", "2"])])

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(TimelineError, match="No space left on device"):
        tl.write_timeline(path, merged)
    assert path.read_text() == "date\tn\n2026-11-01\t1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.tsv"]  # no temp file left


def test_hourly_labels(tmp_path):
    path = write(tmp_path / "h.tsv", "date\tn\n2026-11-01 05:00:00\t1\n")
    assert tl.read_labels(path, Granularity.HOURS) == {"2026-11-01 05:00:00"}
    with pytest.raises(TimelineError):
        tl.read_labels(path, DAYS)
