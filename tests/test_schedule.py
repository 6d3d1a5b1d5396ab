"""Intervals and the schedule: boundaries, lag, max_data_points, gaps, reruns."""

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from reportupdater.config import ReportConfig, Template
from reportupdater.intervals import Granularity, Interval, parse_moment
from reportupdater.schedule import expected_count, missing_intervals, window

D = dt.datetime


def report(granularity="days", starts=D(2026, 1, 1), lag=0, max_data_points=None):
    return ReportConfig(key="r", type="sql", granularity=Granularity(granularity),
                        starts=starts, lag=lag, execute="r",
                        template=Template(Path("r.sql"), "format", "sql", ""),
                        max_data_points=max_data_points)


@pytest.mark.parametrize("moment, granularity, start", [
    (D(2026, 11, 23, 13, 45), "hours", D(2026, 11, 23, 13)),
    (D(2026, 11, 23, 13, 45), "days", D(2026, 11, 23)),
    # 2026-11-23 is a Monday: its week started on Sunday the 22nd.
    (D(2026, 11, 23, 13, 45), "weeks", D(2026, 11, 22)),
    (D(2026, 11, 22), "weeks", D(2026, 11, 22)),  # a Sunday starts its own week
    (D(2026, 11, 21, 23, 59), "weeks", D(2026, 11, 15)),  # Saturday ends the week
    (D(2026, 1, 2), "weeks", D(2025, 12, 28)),  # across a year boundary
    (D(2026, 11, 23), "months", D(2026, 11, 1)),
])
def test_interval_containing(moment, granularity, start):
    interval = Interval.containing(moment, Granularity(granularity))
    assert interval.start == start


@pytest.mark.parametrize("start, granularity, end", [
    (D(2026, 12, 1), "months", D(2027, 1, 1)),
    (D(2024, 1, 1), "months", D(2024, 2, 1)),
    (D(2026, 12, 27), "weeks", D(2027, 1, 3)),
    (D(2026, 12, 31, 23), "hours", D(2027, 1, 1, 0)),
])
def test_interval_end_and_prev(start, granularity, end):
    interval = Interval(start, Granularity(granularity))
    assert interval.end == end
    assert interval.next().prev() == interval


def test_labels():
    assert Interval(D(2026, 3, 1, 7), Granularity.HOURS).label == "2026-03-01 07:00:00"
    assert Interval(D(2026, 3, 1), Granularity.DAYS).label == "2026-03-01"


def test_parse_moment_names_the_bad_value():
    with pytest.raises(ValueError, match="'2026-13-01' is not a date"):
        parse_moment("2026-13-01")


def _strptime_moment(text):
    """parse_moment as the formats alone read it (the fast path must agree)."""
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return D.strptime(text.strip(), fmt)
        except ValueError:
            continue
    return None


_NUMBER = st.sampled_from(["00", "07", "12", "23", "24", "59", "60", "1", "\u0661\u0661"])
_TIME = st.builds(lambda sep, h, m, s, end: f"{sep}{h}:{m}{s}{end}",
                  st.sampled_from([" ", "T", "t", "  ", ""]), _NUMBER, _NUMBER,
                  st.sampled_from(["", ":00", ":30", ":60", ":5", ":00.5"]),
                  st.sampled_from(["", "", "Z", "+00:00", " ", "z"]))


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.builds(lambda date, time: date + time,
                 st.sampled_from(["2026-11-01", "2024-02-29", "2023-02-29", "2026-1-5",
                                  "2026-13-01", "0001-01-01", "9999-12-31", " 2026-11-01",
                                  "20261101", "2026-W01-1", ""]),
                 st.one_of(st.just(""), _TIME)))
def test_parse_moment_reads_exactly_what_its_formats_read(text):
    expected = _strptime_moment(text)
    if expected is None:
        with pytest.raises(ValueError, match="is not a date"):
            parse_moment(text)
    else:
        assert parse_moment(text) == expected


def test_last_interval_is_now_minus_one_unit():
    r = report("days", starts=D(2026, 11, 20))
    assert window(r, D(2026, 11, 23, 0, 30)) == (D(2026, 11, 20), D(2026, 11, 22))


def test_lag_delays_the_last_interval():
    r = report("days", starts=D(2026, 11, 20), lag=3600)
    # At 00:30 with one hour of lag, the 22nd has not ended "lag ago" yet.
    assert window(r, D(2026, 11, 23, 0, 30)) == (D(2026, 11, 20), D(2026, 11, 21))
    assert window(r, D(2026, 11, 23, 1, 0)) == (D(2026, 11, 20), D(2026, 11, 22))


def test_first_interval_is_starts_truncated():
    r = report("weeks", starts=D(2026, 11, 4))  # a Wednesday
    first, last = window(r, D(2026, 11, 23))
    assert first == D(2026, 11, 1) and last == D(2026, 11, 15)


def test_monthly_window():
    r = report("months", starts=D(2026, 1, 15))
    assert window(r, D(2026, 11, 23)) == (D(2026, 1, 1), D(2026, 10, 1))
    assert expected_count(r, D(2026, 11, 23)) == 10


def test_nothing_due_before_the_first_interval_ends():
    assert window(report("months", starts=D(2026, 11, 1)), D(2026, 11, 23)) is None
    assert list(missing_intervals(report("months", starts=D(2026, 11, 1)),
                                  D(2026, 11, 23), set())) == []


def test_max_data_points_keeps_the_last_n():
    r = report("days", starts=D(2020, 1, 1), max_data_points=3)
    assert window(r, D(2026, 11, 23)) == (D(2026, 11, 20), D(2026, 11, 22))
    r = report("months", starts=D(2020, 1, 1), max_data_points=2)
    assert window(r, D(2026, 3, 5)) == (D(2026, 1, 1), D(2026, 2, 1))


def test_gaps_are_filled_oldest_first():
    r = report("days", starts=D(2026, 11, 1))
    done = {"2026-11-01", "2026-11-03", "2026-11-04"}
    due = [i.label for i in missing_intervals(r, D(2026, 11, 6), done)]
    assert due == ["2026-11-02", "2026-11-05"]


def test_reruns_select_overlapping_intervals_even_when_done():
    r = report("weeks", starts=D(2026, 11, 1))
    done = {"2026-11-01", "2026-11-08", "2026-11-15"}
    reruns = [(D(2026, 11, 10), D(2026, 11, 11))]  # inside the week of the 8th
    due = [i.label for i in missing_intervals(r, D(2026, 11, 23), done, reruns)]
    assert due == ["2026-11-08"]


def test_hourly_schedule():
    r = report("hours", starts=D(2026, 11, 23))
    due = [i.label for i in missing_intervals(r, D(2026, 11, 23, 3, 10), {"2026-11-23 01:00:00"})]
    assert due == ["2026-11-23 00:00:00", "2026-11-23 02:00:00"]


def test_plans_are_lazy():
    r = report("hours", starts=D(1970, 1, 1))
    due = missing_intervals(r, D(2026, 11, 23), set())
    assert next(due).start == D(1970, 1, 1)  # half a million intervals, none built yet
