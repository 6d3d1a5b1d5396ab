"""Plan a run: the timelines of the selected reports and the intervals each needs.

Input: a config, an output folder, ``now``, the reports asked for, the rerun
requests and a way to read which dates a timeline has (the triage cache's
``coverage``, which refuses a file written for another granularity). Output, lazily: one ``TimelinePlan`` per report and explode
combination (a *timeline*) with its due intervals, oldest first, or why its
file can't be read. A run executes this plan; ``run --dry-run`` prints it
(``Plan.intervals``) and ``status`` counts what it leaves missing, so all
three agree on what "done" means: an interval whose start date is in the
file, as ``schedule.missing_intervals`` works it out.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from . import schedule, timeline as tl
from .config import Config, ReportConfig
from .errors import TimelineError, UsageError
from .intervals import Granularity, Interval
from .reruns import RerunRequest, load_requests
from .summary import Failure, utcnow
from .triage import CACHE_NAME as TRIAGE_CACHE, Coverage, TriageCache

log = logging.getLogger(__name__)

CoverageReader = Callable[[Path, Granularity], Coverage]  # raises TimelineError


def check_report_names(config: Config, names: Sequence[str]) -> None:
    """Raise UsageError naming the reports the config does not have."""
    unknown = [n for n in names if n not in config.report_keys]
    if unknown:
        raise UsageError(f"unknown report {', '.join(map(repr, unknown))}; the config "
                         f"{config.path} has: {', '.join(config.report_keys) or 'none'}")


def selected_reports(config: Config, names: Sequence[str]) -> list[ReportConfig]:
    """The usable reports called ``names``, in config order; all of them if none."""
    if not names:
        return list(config.reports)
    return [r for r in config.reports if r.key in set(names)]


def rerun_ranges(requests: Sequence[RerunRequest], report: str
                 ) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(r.start, r.end) for r in requests if report in r.reports]


@dataclass
class TimelinePlan:
    """One timeline and its due intervals, or why it can't be planned."""

    report: ReportConfig
    explode: Mapping[str, str]
    path: Path
    due: Iterator[Interval]  # lazy, oldest first
    error: str | None = None  # its file can't be read: nothing of it runs
    missing: int = 0  # with an error: the intervals it leaves undone


@dataclass(frozen=True)
class PlannedInterval:
    """One interval the plan will execute, of one report and explode combination."""

    report: str
    explode: Mapping[str, str]
    interval: Interval

    def line(self) -> str:
        """The dry-run line: report, NAME=VALUE pairs, start and end, tab-separated."""
        fmt = self.interval.granularity.date_format
        values = " ".join(f"{k}={v}" for k, v in self.explode.items())
        return "\t".join([self.report, values, self.interval.start.strftime(fmt),
                          self.interval.end.strftime(fmt)])


class Plan:
    """The timelines of the selected reports, planned lazily, in config order.

    ``reached`` lists the reports whose planning has started (a run that is
    stopped early only settles those). Iterating plans reads the timelines'
    dates through ``coverage``, and touches nothing else, so workers may
    iterate it while the main thread writes.
    """

    def __init__(self, config: Config, output_folder: Path, now: dt.datetime | None = None,
                 reports: Sequence[str] = (), requests: Sequence[RerunRequest] | None = None,
                 coverage: CoverageReader | None = None, start: dt.datetime | None = None,
                 until: dt.datetime | None = None):
        check_report_names(config, reports)
        self.config = config
        self.output_folder = Path(output_folder)
        self.outputs = tl.OutputFolder(self.output_folder)
        self.now = now or utcnow()
        self.reports = tuple(reports)
        self.requests = (load_requests(config.query_folder) if requests is None
                         else list(requests))
        self.coverage = coverage or TriageCache(config.query_folder / TRIAGE_CACHE).coverage
        self.start, self.until = start, until  # run --from/--until: only this window
        self.reached: list[str] = []
        self.failures: list[Failure] = []  # filled by ``intervals``

    def __iter__(self) -> Iterator[TimelinePlan]:
        for report in selected_reports(self.config, self.reports):
            self.reached.append(report.key)
            reruns = rerun_ranges(self.requests, report.key)
            for explode in report.explode_combinations():
                yield self.timeline(report, explode, reruns)

    def timeline(self, report: ReportConfig, explode: Mapping[str, str],
                 reruns: Sequence[tuple[dt.datetime, dt.datetime]] = ()) -> TimelinePlan:
        """One timeline's due intervals at ``now``: those whose date is not in its
        file, and those ``reruns`` name; only in ``[start, until)`` when given."""
        path = report.timeline_path(self.output_folder, explode)
        try:
            path = self.outputs.target(path)  # a link's file, inside the folder
            done = self.coverage(path, report.granularity)
        except TimelineError as e:
            return TimelinePlan(report, explode, path, iter(()), str(e),
                                schedule.expected_count(report, self.now))
        due = schedule.missing_intervals(report, self.now, done, reruns)
        if self.start is not None or self.until is not None:
            due = schedule.within(due, self.start, self.until)
        return TimelinePlan(report, explode, path, due)

    def intervals(self) -> Iterator[PlannedInterval]:
        """Every interval a run would execute, in the run's order (``run --dry-run``).

        A timeline that can't be read is logged and kept in ``failures``.
        """
        for timeline in self:
            if timeline.error is not None:
                failure = Failure(timeline.report.key, dict(timeline.explode), None,
                                  timeline.error, utcnow())
                self.failures.append(failure)
                log.error("%s", failure.describe())
            for interval in timeline.due:
                yield PlannedInterval(timeline.report.key, dict(timeline.explode), interval)
