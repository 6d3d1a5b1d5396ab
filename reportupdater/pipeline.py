"""The run loop: for each timeline with due intervals, execute each interval,
commit the results in date order, and hand what was written to the sinks.

Input: a validated ``Config``, ``RunOptions`` (output folder, ``now``,
reports, jobs...) and the sinks, in order. Output: a ``RunSummary`` and
updated timelines.

The stages are modules of their own: ``planning`` works out each timeline's
due intervals lazily from the dates its file already has; ``executor`` runs them
on ``jobs`` workers under each database's connection limit and reports every
result to this loop; ``commit`` writes a timeline's finished results to its
TSV; the sinks (``sinks``) publish. This loop, on the main thread, is the
only place that records results: each timeline's results are committed in
date order (its finished prefix only), when the timeline is done and every
``checkpoint_seconds`` during a long backfill. A failed interval records
nothing and is retried on the next run; failures are recorded here, per
interval and per timeline, and the run goes on. On Ctrl-C or SIGTERM the run
stops its queries and scripts, commits what has finished, and re-raises
KeyboardInterrupt. A run that passes ``max_run_seconds`` stops the same way
(``lock.RunDeadline``), and records a failure for each report it leaves work
undone in.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from .commit import Committer
from .config import Config, ReportConfig
from .engines import EnginePool, Query, Slot
from .errors import ReportUpdaterError
from .executor import Event, Executor
from .intervals import Interval
from .lock import RunDeadline
from .planning import Plan, TimelinePlan
from .reruns import settle_requests
from .results import IntervalRows, interval_rows
from .sinks import notify
from .summary import Failure, RunSummary, utcnow
from .triage import CACHE_NAME as TRIAGE_CACHE, TriageCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """How to run: the output folder, ``now``, which reports and dates, how many jobs."""

    output_folder: Path
    now: dt.datetime
    reports: tuple[str, ...] = ()  # empty: all reports
    jobs: int = 1
    checkpoint_seconds: float = 60.0
    max_run_seconds: float | None = None  # None: the config's max_run_seconds
    clock: Callable[[], float] = time.monotonic  # for max_run_seconds
    # run --from/--until: only intervals in this window run, and no row outside
    # it is touched (no max_data_points trim, rerun requests kept).
    start: dt.datetime | None = None
    until: dt.datetime | None = None
    rebuild: bool = False  # set aside timelines of another granularity, recompute them

    @property
    def windowed(self) -> bool:
        return self.start is not None or self.until is not None


def run(config: Config, options: RunOptions, sinks: Sequence[object] = (),
        pool: EnginePool | None = None) -> RunSummary:
    """One pass over the selected reports. Raises KeyboardInterrupt, after
    committing what finished, when stopped by Ctrl-C or SIGTERM."""
    started = time.monotonic()
    summary = RunSummary()
    pool = pool or EnginePool(config)
    triage = TriageCache(config.query_folder / TRIAGE_CACHE)
    plan = Plan(config, options.output_folder, options.now, options.reports,
                coverage=partial(triage.coverage, rebuild=options.rebuild),
                start=options.start, until=options.until)
    committer = Committer(triage, options.now, trim=not options.windowed)
    # The deadline stops the executor, whose workers say when it stopped them.
    deadline = RunDeadline(options.max_run_seconds or config.max_run_seconds,
                           lambda: executor.halt(), options.clock)
    executor = Executor(pool, options.jobs, partial(_execute, pool, deadline))
    checkpoint_every = options.checkpoint_seconds
    live: list[TimelineRun] = []  # with results not committed for good
    try:
        with _sigterm_as_interrupt(), deadline:
            try:
                timelines = (TimelineRun(planned) for planned in plan)
                wait = partial(_until_checkpoint, live, checkpoint_every)
                # Each result of each timeline's due intervals as it comes, then the
                # timeline's end; None when a checkpoint may be due.
                for event in executor.run(timelines, wait):
                    if event is not None and event.result is not None:  # an interval ran
                        timeline = event.timeline
                        if timeline not in live:
                            live.append(timeline)
                        for outcome in timeline.in_date_order(event.seq, event.result):
                            _record(timeline, outcome, summary, sinks)
                    if event is not None and event.closed:  # nothing more of it runs
                        timeline = event.timeline
                        _commit(timeline, committer, executor, summary, sinks)
                        _close(timeline, event, summary)
                        if timeline in live:
                            live.remove(timeline)
                    for timeline in live:  # checkpoints during a long backfill
                        if timeline.ready and \
                                time.monotonic() - timeline.last_write >= checkpoint_every:
                            _commit(timeline, committer, executor, summary, sinks)
            except KeyboardInterrupt:
                summary.interrupted = True
                _stop(executor, live, committer, summary, sinks)
                raise
            except BaseException:
                executor.stop()
                raise
        if deadline.expired:
            summary.stopped_by_time_limit = True
            _left_at_time_limit(executor, deadline, committer, summary, sinks)
    finally:
        pool.close()
        triage.save()
        for key in plan.reached:
            summary.reports_run.add(key)
            summary.backlog.setdefault(key, 0)
        if not summary.interrupted and not options.windowed:
            failed = summary.failed_reports
            finished = {key for key in summary.reports_run if key not in failed}
            settle_requests(plan.requests, config, finished, options.now)
        seconds = time.monotonic() - started
        for published in notify(sinks, "publish"):  # deliveries first, so that
            if published is not None:  # every sink sees them in the summary
                summary.add_published(published)
        notify(sinks, "run_finished", summary, seconds)
    return summary


@dataclass
class Outcome:
    """One interval's execution: its rows, or why there are none."""

    interval: Interval
    rows: IntervalRows | None
    error: str | None
    seconds: float


class TimelineRun:
    """One timeline in this run: its plan, and its results on their way to the file.

    Used by the main thread only; the executor keeps its own scheduling state.
    """

    def __init__(self, planned: TimelinePlan):
        self.report = planned.report
        self.explode = planned.explode
        self.path = planned.path
        self.due = planned.due
        self.error = planned.error  # its file can't be read: nothing of it runs
        self.finished: dict[int, Outcome] = {}  # by place, waiting for earlier ones
        self.next_seq = 0
        self.ready: list[IntervalRows] = []  # in date order, not written yet
        self.last_write = time.monotonic()
        self.missing = planned.missing  # intervals this run leaves undone
        self.unwritable: str | None = None  # why its file can't be written

    def in_date_order(self, seq: int, outcome: Outcome) -> list[Outcome]:
        """Take the outcome of the interval at place ``seq``; the outcomes that are
        now next in date order (the contiguous prefix of finished intervals)."""
        self.finished[seq] = outcome
        ordered = []
        while self.next_seq in self.finished:
            ordered.append(self.finished.pop(self.next_seq))
            self.next_seq += 1
        return ordered


def execute_interval(pool: EnginePool, report: ReportConfig, interval: Interval,
                     explode: Mapping[str, str], slot: Slot | None = None) -> IntervalRows:
    """Render, execute and check one interval. Raises ReportUpdaterError."""
    from . import templates  # jinja2 only loads when something is due

    if report.type == "script":
        query = Query(report, interval, explode,
                      argv=tuple(templates.script_argv(report, interval, explode)))
    elif report.type == "cohort":
        query = Query(report, interval, explode)  # the engine builds its own queries
    else:
        query = Query(report, interval, explode,
                      text=templates.render(report, interval, explode))
    with pool.acquire(report, explode, slot) as engine:
        table = engine.run(query)
    return interval_rows(table, report, interval)


def _execute(pool: EnginePool, deadline: RunDeadline, timeline: TimelineRun,
             interval: Interval, slot: Slot | None) -> Outcome:
    """Runs on a worker thread: touches nothing but the engine pool."""
    started = time.monotonic()
    try:
        rows = execute_interval(pool, timeline.report, interval, timeline.explode, slot)
        error = None
    except ReportUpdaterError as e:
        rows, error = None, str(e)
    except Exception as e:  # noqa: BLE001 - a bug must fail one interval, not the run
        log.exception("unexpected error in report %r interval %s", timeline.report.key,
                      interval)
        rows, error = None, f"unexpected error: {type(e).__name__}: {e}"
    if error is not None and deadline.expired:
        error = f"stopped: {deadline.describe()}: {error}"
    return Outcome(interval, rows, error, time.monotonic() - started)


def _record(timeline: TimelineRun, outcome: Outcome, summary: RunSummary,
            sinks: Sequence[object]) -> None:
    """Count an interval in date order: its rows wait to be written, or it failed."""
    summary.intervals_executed += 1
    ok = outcome.error is None
    if ok:
        timeline.ready.append(outcome.rows)
    else:
        timeline.missing += 1
        _fail(summary, timeline, outcome.interval, outcome.error)
    notify(sinks, "interval_finished", timeline.report, timeline.explode, outcome.interval,
           ok, outcome.seconds)


def _commit(timeline: TimelineRun, committer: Committer, executor: Executor,
            summary: RunSummary, sinks: Sequence[object]) -> None:
    """Write the ready results of a timeline to its file, and hand the rows
    written to the sinks. If the file can't be written, nothing more of the
    timeline runs and its results are failures."""
    results, timeline.ready = timeline.ready, []
    timeline.last_write = time.monotonic()
    if not results:
        return
    if timeline.unwritable is None:
        try:
            written = committer.write(timeline.report, timeline.path, results)
        except ReportUpdaterError as e:
            timeline.unwritable = str(e)
            executor.stop_timeline(timeline)
        else:
            summary.files_written += 1
            summary.rows_written += len(written.rows)
            notify(sinks, "timeline_written", timeline.report, timeline.explode,
                   written.header, written.rows)
            return
    timeline.missing += len(results)
    for result in results:
        _fail(summary, timeline, result.interval, f"not written: {timeline.unwritable}")


def _stop(executor: Executor, live: list[TimelineRun], committer: Committer,
          summary: RunSummary, sinks: Sequence[object]) -> None:
    """Interrupted: stop the queries, and commit what has finished (in date order)."""
    for event in executor.stop():
        if event.result is not None:
            if event.timeline not in live:
                live.append(event.timeline)
            for outcome in event.timeline.in_date_order(event.seq, event.result):
                _record(event.timeline, outcome, summary, sinks)
        else:
            _close(event.timeline, event, summary)
    for timeline in live:
        _commit(timeline, committer, executor, summary, sinks)


def _close(timeline: TimelineRun, event: Event, summary: RunSummary) -> None:
    """A timeline is done: record why it could not run, and what it left missing."""
    if event.error is not None:
        _fail(summary, timeline, None, event.error)
    summary.add_backlog(timeline.report.key, timeline.missing + event.dropped)


def _fail(summary: RunSummary, timeline: TimelineRun, interval: Interval | None,
          error: str) -> None:
    failure = Failure(timeline.report.key, dict(timeline.explode), interval, error, utcnow())
    summary.failures.append(failure)
    log.error("%s", failure.describe())


def _until_checkpoint(live: Sequence[TimelineRun], checkpoint_every: float) -> float:
    """How long to wait for an event: until the next checkpoint, 1 s at most."""
    wait = 1.0
    now = time.monotonic()
    for timeline in live:
        if timeline.ready:
            wait = min(wait, timeline.last_write + checkpoint_every - now)
    return max(wait, 0.0)


def _left_at_time_limit(executor: Executor, deadline: RunDeadline, committer: Committer,
                        summary: RunSummary, sinks: Sequence[object]) -> None:
    """The run passed max_run_seconds: commit what finished, and record one failure
    per report for what it leaves undone (in the timelines open, and in those it
    did not get to)."""
    left: dict[str, list] = {}  # report -> [its first timeline left, its first interval, count]
    for timeline, intervals in executor.unfinished():
        if timeline.error is not None:  # not readable: as the run would have found
            _close(timeline, Event(timeline, closed=True, error=timeline.error), summary)
            continue
        _commit(timeline, committer, executor, summary, sinks)
        summary.add_backlog(timeline.report.key, timeline.missing)
        first = next(intervals, None)
        if first is None:
            continue
        left.setdefault(timeline.report.key, [timeline, first, 0])[2] += \
            1 + sum(1 for _ in intervals)
    for key, (timeline, first, count) in left.items():
        _fail(summary, timeline, first, f"not run: {deadline.describe()}; {count} "
              "interval(s) of this report are left for the next run")
        summary.add_backlog(key, count)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the run as Ctrl-C does (main thread only; restored after)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
