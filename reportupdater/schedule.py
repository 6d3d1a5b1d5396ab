"""Work out which intervals of a report are due: expected minus done.

Pure functions of the report, ``now`` (passed in, never read from the clock)
and the dates already in the report's timeline. Intervals are produced lazily,
oldest first, so a plan over millions of intervals costs no memory.
"""

from __future__ import annotations

import datetime as dt
from typing import Container, Iterator, Sequence

from .config import ReportConfig
from .intervals import Granularity, Interval
from .triage import Coverage


def window(report: ReportConfig, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """First and last interval starts a report should have, or None if none yet.

    The last interval is the one ending at or before ``now - lag``, and one
    starting before ``ends`` if the report has an end date; with
    ``max_data_points: N`` only the last N intervals are considered.
    """
    g = report.granularity
    first = g.truncate(report.starts)
    last = g.add(g.truncate(now - dt.timedelta(seconds=report.lag)), -1)
    if report.ends is not None:
        last = min(last, g.truncate(report.ends - dt.timedelta(microseconds=1)))
    if report.max_data_points:
        first = max(first, g.add(last, -(report.max_data_points - 1)))
    if last < first:
        return None
    return first, last


def expected_count(report: ReportConfig, now: dt.datetime) -> int:
    bounds = window(report, now)
    return report.granularity.count(*bounds) if bounds else 0


def overlaps(interval: Interval, ranges: Sequence[tuple[dt.datetime, dt.datetime]]) -> bool:
    """Whether ``interval`` overlaps any half-open ``[start, end)`` range."""
    return any(interval.start < end and interval.end > start for start, end in ranges)


def missing_intervals(report: ReportConfig, now: dt.datetime,
                      done: Coverage | Container[str],
                      reruns: Sequence[tuple[dt.datetime, dt.datetime]] = ()
                      ) -> Iterator[Interval]:
    """Intervals whose date is not in ``done``, or that a rerun asks for, oldest first.

    With a ``Coverage`` the dates that are done are skipped as whole runs, so a
    complete timeline costs nothing however long it is.
    """
    bounds = window(report, now)
    if bounds is None:
        return
    g = report.granularity
    if not isinstance(done, Coverage):
        for start in g.starts(*bounds):
            interval = Interval(start, g)
            if interval.label not in done or (reruns and overlaps(interval, reruns)):
                yield interval
        return
    if reruns:
        done = done.without(rerun_indexes(g, reruns))
    for index in done.missing(g.index(bounds[0]), g.index(bounds[1])):
        yield Interval(g.start_of(index), g)


def rerun_indexes(g: Granularity, reruns: Sequence[tuple[dt.datetime, dt.datetime]]
                  ) -> list[tuple[int, int]]:
    """The inclusive index ranges of the intervals overlapping each ``[start, end)``."""
    ranges = []
    for start, end in reruns:
        last = g.truncate(end)
        if last == end:  # the interval starting at ``end`` does not overlap
            last = g.add(last, -1)
        first = g.truncate(start)
        if first <= last:
            ranges.append((g.index(first), g.index(last)))
    return ranges


def within(intervals: Iterator[Interval], start: dt.datetime | None,
           until: dt.datetime | None) -> Iterator[Interval]:
    """The intervals from the one containing ``start`` to the last one starting
    before ``until`` (either may be None: unbounded)."""
    for interval in intervals:
        if until is not None and interval.start >= until:
            return
        if start is None or interval.end > start:
            yield interval
