"""Try a report: execute chosen intervals and give back the TSV a run would merge.

Input: a config, a report, its explode values, the intervals, and optionally
a fixture folder (then ``sql`` and ``hive`` reports run on a local DuckDB).
Output: a ``TryResult`` with the merged rows (header once, rows in date
order) and the failures, each described as a run logs it. Nothing is
written, no lock is taken, nothing is published and ``.reruns/`` is not read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from .. import timeline as tl
from ..config import Config, ReportConfig
from ..engines import EnginePool
from ..errors import ReportUpdaterError, UsageError
from ..intervals import Interval
from ..pipeline import Failure, execute_interval
from .engine import FixturePool


@dataclass
class TryResult:
    timeline: tl.Timeline
    failures: list[Failure] = field(default_factory=list)

    def tsv(self) -> str:
        """The header once, then the rows in date order (empty when nothing ran)."""
        return tl.render(self.timeline) if self.timeline.header else ""


def intervals_in(report: ReportConfig, date: dt.datetime | None = None,
                 start: dt.datetime | None = None, until: dt.datetime | None = None
                 ) -> list[Interval]:
    """The interval containing ``date``, or every interval from the one containing
    ``start`` up to ``until`` (exclusive). Raises UsageError on an empty range."""
    g = report.granularity
    if date is not None:
        return [Interval.containing(date, g)]
    if start is None or until is None:
        raise UsageError("give --date, or both --from and --until")
    intervals = []
    interval = Interval.containing(start, g)
    while interval.start < until:
        intervals.append(interval)
        interval = interval.next()
    if not intervals:
        raise UsageError(f"--from {start:%Y-%m-%d} --until {until:%Y-%m-%d} holds no "
                         f"interval of report {report.key!r}: --until is exclusive and "
                         "must come after --from")
    return intervals


def try_report(config: Config, report: ReportConfig, explode: Mapping[str, str],
               intervals: Sequence[Interval], fixtures: Path | None = None) -> TryResult:
    """Execute ``intervals`` of ``report`` in order, as a run would; collect, never raise,
    the failures of single intervals."""
    pool = FixturePool(config, fixtures) if fixtures is not None else EnginePool(config)
    results, failures = [], []
    try:
        for interval in intervals:
            try:
                results.append(execute_interval(pool, report, interval, explode))
            except ReportUpdaterError as e:
                failures.append(Failure(report.key, dict(explode), interval, str(e),
                                        dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)))
    finally:
        pool.close()
    return TryResult(tl.merge(None, results), failures)
