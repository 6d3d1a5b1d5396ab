"""The main loop: select intervals, execute, write, publish.

Input: a validated ``Config`` and ``RunOptions`` (output folder, ``now``,
jobs...). Output: a ``RunSummary`` and updated timelines. For each report and
explode combination (a *timeline*), the due intervals are computed lazily,
executed on a bounded pool of worker threads, and committed to the TSV in date
order: once when the timeline is finished, and at least every checkpoint
interval during a long backfill. A failed interval records nothing and is
retried on the next run; failures are handled here, per interval and per
timeline, and reported in the summary.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Protocol, Sequence

from . import schedule, templates, timeline as tl
from .config import Config, ReportConfig
from .engines import EnginePool, Query
from .errors import ReportUpdaterError, TimelineError
from .intervals import Interval
from .reruns import RerunRequest, load_requests, settle
from .results import IntervalRows, interval_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    output_folder: Path
    now: dt.datetime
    reports: tuple[str, ...] = ()  # empty: all reports
    jobs: int = 1
    checkpoint_seconds: float = 60.0


@dataclass(frozen=True)
class Failure:
    report: str
    explode: Mapping[str, str]
    interval: Interval | None  # None: the whole timeline failed (read or write)
    error: str
    at: dt.datetime

    def describe(self) -> str:
        where = f"report {self.report!r}"
        if self.explode:
            where += " (" + ", ".join(f"{k}={v}" for k, v in self.explode.items()) + ")"
        if self.interval is not None:
            where += f" interval {self.interval}"
        return f"{where}: {self.error}"


@dataclass
class RunSummary:
    intervals_executed: int = 0
    rows_written: int = 0
    files_written: int = 0
    failures: list[Failure] = field(default_factory=list)
    reports_run: set[str] = field(default_factory=set)
    backlog: dict[str, int] = field(default_factory=dict)  # report -> still missing
    graphite_sent: int = 0  # set by the Graphite publisher
    graphite_queued: int = 0  # points waiting in the outbox after the run

    @property
    def failed_reports(self) -> set[str]:
        return {f.report for f in self.failures}

    @property
    def ok(self) -> bool:
        return not self.failures


class RunObserver(Protocol):
    """Hooks for publishers and progress displays; every method is optional."""

    def interval_finished(self, report: ReportConfig, explode: Mapping[str, str],
                          interval: Interval, ok: bool, seconds: float) -> None: ...

    def timeline_written(self, report: ReportConfig, explode: Mapping[str, str],
                         header: Sequence[str], rows: Sequence[Sequence[str]]) -> None: ...

    def run_finished(self, summary: RunSummary, seconds: float) -> None: ...


def _notify(observers: Sequence[object], method: str, *args: object) -> None:
    for observer in observers:
        hook = getattr(observer, method, None)
        if hook is not None:
            try:
                hook(*args)
            except Exception:  # noqa: BLE001 - a publisher must not break the run
                log.exception("%s.%s failed", type(observer).__name__, method)


def selected_reports(config: Config, names: Sequence[str]) -> list[ReportConfig]:
    if not names:
        return list(config.reports)
    return [r for r in config.reports if r.key in set(names)]


def rerun_ranges(requests: Sequence[RerunRequest], report: str
                 ) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(r.start, r.end) for r in requests if report in r.reports]


@dataclass
class _Outcome:
    seq: int
    interval: Interval
    rows: IntervalRows | None
    error: str | None
    seconds: float


class _TimelineJob:
    """One timeline being updated: its due intervals and results in flight."""

    def __init__(self, report: ReportConfig, explode: Mapping[str, str], path: Path,
                 due: Iterator[Interval], existing_labels: set[str]):
        self.report = report
        self.explode = explode
        self.path = path
        self.due = due
        self.existing_labels = existing_labels
        self.submitted = 0
        self.exhausted = False
        self.outcomes: dict[int, _Outcome] = {}
        self.next_seq = 0
        self.ready: list[IntervalRows] = []
        self.last_write = time.monotonic()
        self.broken = False  # its file can't be read or written: stop executing
        self.failed = 0  # intervals still missing because of this run's failures

    def next_interval(self) -> Interval | None:
        if self.exhausted or self.broken:
            return None
        interval = next(self.due, None)
        if interval is None:
            self.exhausted = True
        return interval

    @property
    def finished(self) -> bool:
        return (self.exhausted or self.broken) and self.next_seq == self.submitted


def execute_interval(pool: EnginePool, report: ReportConfig, interval: Interval,
                     explode: Mapping[str, str]) -> IntervalRows:
    """Render, execute and check one interval. Raises ReportUpdaterError."""
    if report.type == "script":
        query = Query(report, interval, explode,
                      argv=tuple(templates.script_argv(report, interval, explode)))
    else:
        query = Query(report, interval, explode,
                      text=templates.render(report, interval, explode))
    with pool.acquire(report, explode) as engine:
        table = engine.run(query)
    return interval_rows(table, report, interval)


class Runner:
    """Runs one pass over the selected reports."""

    def __init__(self, config: Config, options: RunOptions,
                 observers: Sequence[object] = (), pool: EnginePool | None = None):
        self.config = config
        self.options = options
        self.observers = list(observers)
        self.pool = pool or EnginePool(config)
        self.summary = RunSummary()
        self.requests = load_requests(config.query_folder)

    # -- planning -------------------------------------------------------

    def timelines(self) -> Iterator[_TimelineJob]:
        """Every timeline of the selected reports, with its due intervals (lazy)."""
        for report in selected_reports(self.config, self.options.reports):
            self.summary.reports_run.add(report.key)
            reruns = rerun_ranges(self.requests, report.key)
            self.summary.backlog.setdefault(report.key, 0)
            for explode in report.explode_combinations():
                path = report.timeline_path(self.options.output_folder, explode)
                try:
                    labels = tl.read_labels(path, report.granularity)
                except TimelineError as e:
                    self._fail(report, explode, None, str(e))
                    backlog = self.summary.backlog
                    backlog[report.key] = (backlog.get(report.key, 0)
                                           + schedule.expected_count(report, self.options.now))
                    continue
                due = schedule.missing_intervals(report, self.options.now, labels, reruns)
                yield _TimelineJob(report, explode, path, due, labels)

    # -- execution ------------------------------------------------------

    def _fail(self, report: ReportConfig, explode: Mapping[str, str],
              interval: Interval | None, error: str) -> None:
        failure = Failure(report.key, dict(explode), interval, error,
                          dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
        self.summary.failures.append(failure)
        log.error("%s", failure.describe())

    def _execute(self, job: _TimelineJob, seq: int, interval: Interval) -> _Outcome:
        started = time.monotonic()
        try:
            rows = execute_interval(self.pool, job.report, interval, job.explode)
            error = None
        except ReportUpdaterError as e:
            rows, error = None, str(e)
        except Exception as e:  # noqa: BLE001 - a bug must fail one interval, not the run
            log.exception("unexpected error in report %r interval %s", job.report.key,
                          interval)
            rows, error = None, f"unexpected error: {type(e).__name__}: {e}"
        return _Outcome(seq, interval, rows, error, time.monotonic() - started)

    def run(self) -> RunSummary:
        started = time.monotonic()
        jobs = max(1, self.options.jobs)
        timelines = self.timelines()
        submitting: deque[_TimelineJob] = deque()  # still have intervals to submit
        live: list[_TimelineJob] = []  # not yet finally committed
        futures: dict[Future, _TimelineJob] = {}
        more_timelines = True
        try:
            with ThreadPoolExecutor(max_workers=jobs,
                                    thread_name_prefix="reportupdater") as executor:
                while True:
                    # Keep up to `jobs` timelines open and round-robin between them,
                    # so one slow report does not hold up the others.
                    while len(futures) < jobs * 2:
                        while more_timelines and len(submitting) < jobs:
                            job = next(timelines, None)
                            if job is None:
                                more_timelines = False
                            else:
                                submitting.append(job)
                                live.append(job)
                        if not submitting:
                            break
                        job = submitting.popleft()
                        interval = job.next_interval()
                        if interval is None:
                            self._maybe_finish(job, live)
                            continue
                        futures[executor.submit(self._execute, job, job.submitted,
                                                interval)] = job
                        job.submitted += 1
                        submitting.append(job)
                    if not futures:
                        break
                    done, _ = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
                    for future in done:
                        job = futures.pop(future)
                        self._collect(job, future.result())
                        self._maybe_finish(job, live)
                    now = time.monotonic()
                    for job in live:
                        if job.ready and now - job.last_write >= self.options.checkpoint_seconds:
                            self._commit(job)
        finally:
            self.pool.close()
        self._settle_reruns()
        _notify(self.observers, "run_finished", self.summary, time.monotonic() - started)
        return self.summary

    def _maybe_finish(self, job: _TimelineJob, live: list[_TimelineJob]) -> None:
        if job.finished and job in live:
            self._commit(job)
            live.remove(job)
            backlog = self.summary.backlog
            backlog[job.report.key] = backlog.get(job.report.key, 0) + job.failed

    def _collect(self, job: _TimelineJob, outcome: _Outcome) -> None:
        job.outcomes[outcome.seq] = outcome
        # Commit in date order: only the contiguous prefix of finished intervals.
        while job.next_seq in job.outcomes:
            done = job.outcomes.pop(job.next_seq)
            job.next_seq += 1
            self.summary.intervals_executed += 1
            ok = done.error is None
            if ok:
                job.ready.append(done.rows)
            else:
                job.failed += 1
                self._fail(job.report, job.explode, done.interval, done.error)
            _notify(self.observers, "interval_finished", job.report, job.explode,
                    done.interval, ok, done.seconds)

    def _commit(self, job: _TimelineJob) -> None:
        """Write the ready results of a timeline to its file, atomically."""
        results, job.ready = job.ready, []
        job.last_write = time.monotonic()
        if not results or job.broken:
            return
        try:
            self._write(job, results)
        except ReportUpdaterError as e:
            job.broken = True
            job.failed += len(results) + sum(1 for _ in job.due)
            for result in results:
                self._fail(job.report, job.explode, result.interval, f"not written: {e}")

    def _write(self, job: _TimelineJob, results: list[IntervalRows]) -> None:
        report = job.report
        current = tl.read_timeline(job.path, report.granularity)
        merged = tl.merge(current, results)
        if report.max_data_points:
            bounds = schedule.window(report, self.options.now)
            if bounds:
                tl.trim_before(merged, report.granularity.format(bounds[0]))
        tl.write_timeline(job.path, merged, report.group)
        written = [row for result in results for label in _labels_within(merged, result)
                   for row in merged.rows[label]]
        self.summary.files_written += 1
        self.summary.rows_written += len(written)
        _notify(self.observers, "timeline_written", report, job.explode, merged.header,
                written)

    # -- after the run ----------------------------------------------------

    def _settle_reruns(self) -> None:
        failed = self.summary.failed_reports
        finished = {key for key in self.summary.reports_run if key not in failed}
        for request in self.requests:
            unknown = [r for r in request.reports if r not in self.config.report_keys]
            if unknown:
                log.warning("rerun request %s names unknown report(s) %s; they are dropped",
                            request.path, ", ".join(unknown))
            settle(request, finished | set(unknown))


def _labels_within(timeline: tl.Timeline, result: IntervalRows) -> list[str]:
    start = result.interval.label
    end = result.interval.granularity.format(result.interval.end)
    return sorted(label for label in timeline.rows if start <= label < end)
