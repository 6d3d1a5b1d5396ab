"""The main loop: select intervals, execute, write, publish.

Input: a validated ``Config`` and ``RunOptions`` (output folder, ``now``,
jobs...). Output: a ``RunSummary`` and updated timelines.

For each report and explode combination (a *timeline*), the due intervals are
worked out lazily from the dates its file already has (``triage``,
``schedule``). They run on ``jobs`` worker threads. A worker that is free
takes the next interval itself (``_Scheduler``): from the open timeline with
the fewest intervals running whose database is below its ``max_connections``
(or Hive backend below its ``max_concurrency``), so a slow report, or one
waiting for its database, never holds a worker another report could use. The
main thread alone collects results, writes files and calls observers. Each
timeline's results are committed to its TSV in date order (the finished
prefix only): when the timeline is done, and every ``checkpoint_seconds``
during a long backfill. A failed interval records nothing and is retried on
the next run; failures are handled here, per interval and per timeline, and
reported in the summary. On Ctrl-C or SIGTERM the run stops its queries and
scripts, commits what has finished, and re-raises KeyboardInterrupt. A run
that passes ``max_run_seconds`` stops the same way (``lock.RunDeadline``),
and records a failure for each report it leaves work undone in.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Protocol, Sequence

from . import schedule, timeline as tl
from .config import Config, ReportConfig
from .engines import EnginePool, Query, Slot
from .errors import ReportUpdaterError, TimelineError
from .intervals import Interval
from .lock import RunDeadline
from .reruns import RerunRequest, load_requests, settle_requests
from .results import IntervalRows, interval_rows
from .triage import CACHE_NAME as TRIAGE_CACHE, Coverage, TriageCache

log = logging.getLogger(__name__)

# Timelines open at once, per job, while every open one waits for a slot at
# its limit (each holds only its plan and finished results).
_MAX_OPEN_PER_JOB = 4


@dataclass(frozen=True)
class RunOptions:
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
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM; run_finished still runs
    stopped_by_time_limit: bool = False  # passed max_run_seconds; failures say what is left

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


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TimelineError(f"cannot read {path}: {e}") from e


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


class _TimelineJob:
    """One timeline being updated: its due intervals and results in flight.

    The scheduler's fields (``due``, ``slot``, ``submitted``, ``running``,
    ``broken``...) change under the scheduler's lock; ``outcomes``,
    ``next_seq``, ``ready``, ``last_write`` and ``failed`` belong to the main
    thread.
    """

    def __init__(self, report: ReportConfig, explode: Mapping[str, str], path: Path,
                 due: Iterator[Interval]):
        self.report = report
        self.explode = explode
        self.path = path
        self.due = due
        self.slot: Slot | None = None  # engines it runs on; set when first picked
        self.submitted = 0
        self.running = 0
        self.exhausted = False
        self._next: Interval | None = None  # planned, not handed out yet
        self.broken: str | None = None  # why nothing more of it runs
        self.outcomes: dict[int, _Outcome] = {}
        self.next_seq = 0
        self.ready: list[IntervalRows] = []
        self.last_write = time.monotonic()
        self.failed = 0  # intervals still missing because of this run's failures

    def look_ahead(self) -> None:
        """Plan one interval ahead, so ``has_work`` is exact."""
        if self._next is None and not self.exhausted:
            self._next = next(self.due, None)
            self.exhausted = self._next is None

    def next_interval(self) -> Interval | None:
        if self.broken:
            return None
        self.look_ahead()
        interval, self._next = self._next, None
        self.look_ahead()
        return interval

    def drop_remaining(self) -> int:
        """Give up the intervals not handed out yet; how many there were."""
        count = (self._next is not None) + sum(1 for _ in self.due)
        self._next, self.exhausted = None, True
        return count

    @property
    def has_work(self) -> bool:
        return self._next is not None and not self.broken

    @property
    def finished(self) -> bool:
        return not self.has_work and self.running == 0 and self.next_seq == self.submitted


@dataclass
class _Outcome:
    job: _TimelineJob
    seq: int
    interval: Interval
    rows: IntervalRows | None
    error: str | None
    seconds: float


@dataclass
class _Unusable:
    """A timeline that can't run at all (its file can't be read, its shard found)."""

    report: ReportConfig
    explode: Mapping[str, str]
    error: str
    missing: int  # intervals it leaves undone
    job: _TimelineJob | None = None


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


_AGAIN = object()  # next_task(wait=False): the main thread must handle its events first


class _Scheduler:
    """Picks the next interval for each worker the moment it is free.

    Workers call ``next_task`` with the outcome of their last task; everything
    here runs on worker threads under one lock, so the dispatch needs no round
    trip through the main thread. It keeps ``jobs`` timelines with work open
    and picks the one with the fewest intervals running whose engine slot is
    below its limit, the oldest on a tie. Only while every open timeline waits
    for a slot at its limit does it open more (up to ``_MAX_OPEN_PER_JOB`` per
    job), so another database can use the free worker. Planning (reading the
    timelines' dates) happens here too, lazily, as timelines are opened.
    """

    def __init__(self, plan: Iterator[_TimelineJob | _Unusable], pool: EnginePool,
                 jobs: int):
        self.plan = plan
        self.pool = pool
        self.jobs = jobs
        self.cv = threading.Condition()
        self.open: list[_TimelineJob] = []  # opened, not finished by the main thread
        self.busy: dict[Slot, int] = {}  # intervals running per slot
        self.more = True  # the plan has more timelines
        self.stopping = False
        # To the main thread: outcomes, unusable timelines, a worker's crash, and
        # None from each worker that leaves.
        self.events: queue.SimpleQueue[_Outcome | _Unusable | Exception | None] = \
            queue.SimpleQueue()

    def next_task(self, done: _Outcome | None, wait: bool = True
                  ) -> tuple[_TimelineJob, int, Interval] | object | None:
        """The next interval to run; None when there is none left. Without
        ``wait``, ``_AGAIN`` instead of waiting for the main thread."""
        with self.cv:
            if done is not None:
                done.job.running -= 1
                self.busy[done.job.slot] -= 1
                self.events.put(done)
                self.cv.notify_all()  # its slot has room again
            while not self.stopping:
                can_open = self.more and len(self.open) < _MAX_OPEN_PER_JOB * self.jobs
                if can_open and sum(j.has_work for j in self.open) < self.jobs:
                    self._open_next()
                    continue
                job = self._pick()
                if job is not None:
                    interval = job.next_interval()
                    job.submitted += 1
                    job.running += 1
                    self.busy[job.slot] = self.busy.get(job.slot, 0) + 1
                    return job, job.submitted - 1, interval
                if can_open:  # every open timeline waits for its slot: look further
                    self._open_next()
                elif self.more or any(j.has_work for j in self.open):
                    if not wait:
                        return _AGAIN
                    self.cv.wait()  # for a slot, or for the main thread to finish one
                else:
                    return None
        return None

    def _open_next(self) -> None:
        opened = next(self.plan, None)
        if opened is None:
            self.more = False
        elif isinstance(opened, _Unusable):
            self.events.put(opened)
        else:
            opened.look_ahead()
            if opened.has_work:
                self.open.append(opened)
            # else: complete already, the usual hourly case; nothing to commit

    def _pick(self) -> _TimelineJob | None:
        best = None
        for job in self.open:
            if not job.has_work or (best is not None and job.running >= best.running):
                continue
            if job.slot is None:
                try:
                    job.slot = self.pool.slot(job.report, job.explode)
                except ReportUpdaterError as e:  # e.g. its shard can't be found
                    job.broken = str(e)
                    self.events.put(_Unusable(job.report, job.explode, str(e),
                                              job.drop_remaining(), job))
                    continue
            if job.slot.limit and self.busy.get(job.slot, 0) >= job.slot.limit:
                continue
            best = job
        return best

    def finish(self, job: _TimelineJob) -> bool:
        """Called by the main thread: forget ``job`` if nothing of it is left to run."""
        with self.cv:
            if not job.finished or job not in self.open:
                return False
            self.open.remove(job)
            self.cv.notify_all()  # room to open another timeline
            return True

    def break_job(self, job: _TimelineJob, error: str) -> int:
        """Called by the main thread when a job's file can't be written."""
        with self.cv:
            job.broken = error
            return job.drop_remaining()

    def stop(self) -> None:
        with self.cv:
            self.stopping = True
            self.cv.notify_all()


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
        self.triage = TriageCache(config.query_folder / TRIAGE_CACHE)
        self.outputs = tl.OutputFolder(options.output_folder)
        self._reached: list[str] = []  # reports the plan got to, in order
        self.deadline: RunDeadline | None = None

    # -- planning -------------------------------------------------------

    def timelines(self) -> Iterator[_TimelineJob]:
        """Every timeline of the selected reports, with its due intervals (lazy).

        Timelines that can't be read are recorded as failures in the summary.
        """
        for item in self._plan():
            self._record_reached()
            if isinstance(item, _Unusable):
                self._unusable(item)
            else:
                yield item
        self._record_reached()

    def _plan(self) -> Iterator[_TimelineJob | _Unusable]:
        """Every timeline, or why it can't run; touches no shared state but the
        triage cache (so that workers can advance it)."""
        now = self.options.now
        for report in selected_reports(self.config, self.options.reports):
            self._reached.append(report.key)
            reruns = rerun_ranges(self.requests, report.key)
            for explode in report.explode_combinations():
                path = report.timeline_path(self.options.output_folder, explode)
                try:
                    path = self.outputs.target(path)  # a link's file, inside the folder
                    done = self.triage.coverage(path, report.granularity,
                                                rebuild=self.options.rebuild)
                except TimelineError as e:
                    yield _Unusable(report, explode, str(e),
                                    schedule.expected_count(report, now))
                    continue
                due = schedule.missing_intervals(report, now, done, reruns)
                if self.options.windowed:
                    due = schedule.within(due, self.options.start, self.options.until)
                yield _TimelineJob(report, explode, path, due)

    def _record_reached(self) -> None:
        for key in self._reached:
            self.summary.reports_run.add(key)
            self.summary.backlog.setdefault(key, 0)

    def _unusable(self, item: _Unusable) -> None:
        self._fail(item.report, item.explode, None, item.error)
        backlog = self.summary.backlog
        backlog[item.report.key] = backlog.get(item.report.key, 0) + item.missing

    # -- execution ------------------------------------------------------

    def _fail(self, report: ReportConfig, explode: Mapping[str, str],
              interval: Interval | None, error: str) -> None:
        failure = Failure(report.key, dict(explode), interval, error,
                          dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
        self.summary.failures.append(failure)
        log.error("%s", failure.describe())

    def _execute(self, job: _TimelineJob, seq: int, interval: Interval) -> _Outcome:
        """Runs on a worker thread: touches nothing but the engine pool."""
        started = time.monotonic()
        try:
            rows = execute_interval(self.pool, job.report, interval, job.explode, job.slot)
            error = None
        except ReportUpdaterError as e:
            rows, error = None, str(e)
        except Exception as e:  # noqa: BLE001 - a bug must fail one interval, not the run
            log.exception("unexpected error in report %r interval %s", job.report.key,
                          interval)
            rows, error = None, f"unexpected error: {type(e).__name__}: {e}"
        if error is not None and self.deadline is not None and self.deadline.expired:
            error = f"stopped: {self.deadline.describe()}: {error}"
        return _Outcome(job, seq, interval, rows, error, time.monotonic() - started)

    def _work(self, scheduler: _Scheduler) -> None:
        outcome = None
        try:
            while (task := scheduler.next_task(outcome)) is not None:
                outcome = self._execute(*task)
        except Exception as e:  # noqa: BLE001 - a bug in planning: the main thread raises it
            scheduler.events.put(e)
        finally:
            scheduler.events.put(None)

    def run(self) -> RunSummary:
        started = time.monotonic()
        try:
            with _sigterm_as_interrupt():
                self._execute_all()
        except KeyboardInterrupt:
            self.summary.interrupted = True
            raise
        finally:
            self.pool.close()
            self.triage.save()
            self._record_reached()
            if not self.summary.interrupted and not self.options.windowed:
                self._settle_reruns()
            _notify(self.observers, "run_finished", self.summary, time.monotonic() - started)
        return self.summary

    def _execute_all(self) -> None:
        """Execute what is due; collect and commit the results until all is done."""
        jobs = max(1, self.options.jobs)
        scheduler = _Scheduler(self._plan(), self.pool, jobs)
        live: list[_TimelineJob] = []  # with results not finally committed
        limit = self.options.max_run_seconds or self.config.max_run_seconds

        def stop() -> None:  # from the deadline's thread, as Ctrl-C stops the queries
            scheduler.stop()
            self.pool.interrupt()

        try:
            with RunDeadline(limit, stop, self.options.clock) as self.deadline:
                if jobs == 1:
                    self._execute_inline(scheduler, live)
                else:
                    self._execute_threaded(scheduler, live, jobs)
        except KeyboardInterrupt:
            self._stop(scheduler, live)
            raise
        except BaseException:
            scheduler.stop()
            self.pool.interrupt()
            raise
        for job in list(scheduler.open):  # all finished by now: every outcome is in
            self._finish(job, live)
        if self.deadline.expired:
            self._left_at_time_limit(scheduler)

    def _execute_threaded(self, scheduler: _Scheduler, live: list[_TimelineJob],
                          jobs: int) -> None:
        # Daemon threads: an interrupted run exits even if a query ignores the kill.
        workers = [threading.Thread(target=self._work, args=(scheduler,), daemon=True,
                                    name=f"reportupdater-worker-{n}") for n in range(jobs)]
        for worker in workers:
            worker.start()
        left = 0
        while left < len(workers):
            try:
                event = scheduler.events.get(timeout=self._wait_seconds(live))
            except queue.Empty:
                self._checkpoint(live, scheduler)
                continue
            if event is None:
                left += 1
            elif isinstance(event, Exception):
                raise RuntimeError("a worker thread failed") from event
            else:
                self._handle(event, scheduler, live)
            self._checkpoint(live, scheduler)
        for worker in workers:
            worker.join()

    def _execute_inline(self, scheduler: _Scheduler, live: list[_TimelineJob]) -> None:
        """With one job there is nothing to overlap: the main thread runs each
        interval itself, and no hand-off between threads costs time."""
        outcome = None
        while True:
            task = scheduler.next_task(outcome, wait=False)
            outcome = None
            while True:
                try:
                    event = scheduler.events.get_nowait()
                except queue.Empty:
                    break
                self._handle(event, scheduler, live)
            self._checkpoint(live, scheduler)
            if task is None:
                return
            if task is not _AGAIN:
                outcome = self._execute(*task)

    def _handle(self, event: _Outcome | _Unusable, scheduler: _Scheduler,
                live: list[_TimelineJob]) -> None:
        if isinstance(event, _Unusable):
            self._unusable(event)
            if event.job is not None:
                self._maybe_finish(event.job, scheduler, live)
            return
        if event.job not in live:
            live.append(event.job)
        self._collect(event.job, event)
        self._maybe_finish(event.job, scheduler, live)

    def _stop(self, scheduler: _Scheduler, live: list[_TimelineJob]) -> None:
        """Interrupted: stop the queries, and commit what has finished (in date order)."""
        scheduler.stop()
        self.pool.interrupt()
        while True:
            try:
                event = scheduler.events.get_nowait()
            except queue.Empty:
                break
            if isinstance(event, _Unusable):
                self._unusable(event)
            elif isinstance(event, _Outcome):
                if event.job not in live:
                    live.append(event.job)
                self._collect(event.job, event)
        for job in live:
            self._commit(job, scheduler)

    def _wait_seconds(self, live: list[_TimelineJob]) -> float:
        """How long to wait for an event: until the next checkpoint, 1 s at most."""
        wait = 1.0
        now = time.monotonic()
        for job in live:
            if job.ready:
                wait = min(wait, job.last_write + self.options.checkpoint_seconds - now)
        return max(wait, 0.0)

    def _checkpoint(self, live: list[_TimelineJob], scheduler: _Scheduler) -> None:
        now = time.monotonic()
        for job in list(live):
            if job.ready and now - job.last_write >= self.options.checkpoint_seconds:
                self._commit(job, scheduler)
                self._maybe_finish(job, scheduler, live)  # if the write broke it

    def _maybe_finish(self, job: _TimelineJob, scheduler: _Scheduler,
                      live: list[_TimelineJob]) -> None:
        if scheduler.finish(job):
            self._finish(job, live, scheduler)

    def _finish(self, job: _TimelineJob, live: list[_TimelineJob],
                scheduler: _Scheduler | None = None) -> None:
        self._commit(job, scheduler)
        if job in live:
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

    def _commit(self, job: _TimelineJob, scheduler: _Scheduler | None) -> None:
        """Write the ready results of a timeline to its file, atomically."""
        results, job.ready = job.ready, []
        job.last_write = time.monotonic()
        if not results:
            return
        if job.broken is None:
            try:
                self._write(job, results)
                return
            except ReportUpdaterError as e:
                self.triage.forget(job.path)
                if scheduler is not None:
                    job.failed += scheduler.break_job(job, str(e))
                else:
                    job.broken = str(e)
        job.failed += len(results)
        for result in results:
            self._fail(job.report, job.explode, result.interval, f"not written: {job.broken}")

    def _write(self, job: _TimelineJob, results: list[IntervalRows]) -> None:
        report, g = job.report, job.report.granularity
        existing = tl.read_data(job.path)
        appended = self._append(job, results, existing) if existing else None
        if appended is not None:
            merged, coverage = appended
        else:
            current = (tl.parse_timeline(_decode(existing[0], job.path), job.path, g)
                       if existing else None)
            merged = tl.merge(current, results)
            if report.max_data_points and not self.options.windowed:
                bounds = schedule.window(report, self.options.now)
                if bounds:
                    tl.trim_before(merged, g.format(bounds[0]))
            written_file = tl.write_timeline(job.path, merged, report.group)
            coverage = Coverage.from_labels(sorted(merged.rows), g)
            self._remember(job, written_file, merged, coverage)
        written = []
        for result in results:
            for label in sorted({row[0] for row in result.rows}):
                written += merged.rows.get(label, ())
        self.summary.files_written += 1
        self.summary.rows_written += len(written)
        _notify(self.observers, "timeline_written", report, job.explode, merged.header,
                written)

    def _append(self, job: _TimelineJob, results: list[IntervalRows],
                existing: tuple[bytes, os.stat_result]
                ) -> tuple[tl.Timeline, Coverage] | None:
        """Add results after the file's rows without parsing it, when that gives the
        very bytes a full merge would: the file is exactly as this tool last wrote
        it, the results come after its last date, have its header, and nothing is
        trimmed. The usual daily run over hundreds of long files. None otherwise."""
        if job.report.max_data_points:
            return None
        known = self.triage.written(job.path, *existing)
        if known is None:
            return None
        header, last, coverage = known
        if any(list(r.header) != header or r.interval.label <= last for r in results):
            return None
        later = tl.merge(None, results)
        written_file = tl.append_timeline(job.path, existing[0], later, job.report.group)
        coverage = Coverage(coverage.granularity, coverage.runs + Coverage.from_labels(
            sorted(later.rows), coverage.granularity).runs)
        self._remember(job, written_file, later, coverage, last)
        return later, coverage

    def _remember(self, job: _TimelineJob, written_file: tl.WrittenFile,
                  timeline: tl.Timeline, coverage: Coverage, last: str | None = None) -> None:
        """Record what was written in the triage cache, for the next runs."""
        if written_file.stat is None:
            self.triage.forget(job.path)
            return
        last = max(timeline.rows, default=last)
        self.triage.record(job.path, written_file.stat, written_file.seen_ns,
                           written_file.crc, coverage,
                           timeline.header if last is not None else None, last)

    def _left_at_time_limit(self, scheduler: _Scheduler) -> None:
        """The run passed max_run_seconds: one failure per report for what it leaves
        undone (in the timelines open, and in those it did not get to)."""
        self.summary.stopped_by_time_limit = True
        left: dict[str, tuple[ReportConfig, Mapping[str, str], Interval, int]] = {}
        pending = [job for job in scheduler.open if job.has_work]
        for item in scheduler.plan:  # the timelines not opened yet (cheap: dates only)
            if isinstance(item, _Unusable):
                self._unusable(item)
            else:
                item.look_ahead()
                if item.has_work:
                    pending.append(item)
        for job in pending:
            first = job.next_interval()
            count = 1 + job.drop_remaining()
            report, explode, interval, total = left.get(job.report.key,
                                                        (job.report, job.explode, first, 0))
            left[job.report.key] = (report, explode, interval, total + count)
        for key, (report, explode, interval, count) in left.items():
            self._fail(report, explode, interval,
                       f"not run: {self.deadline.describe()}; {count} interval(s) of this "
                       "report are left for the next run")
            self.summary.backlog[key] = self.summary.backlog.get(key, 0) + count

    # -- after the run ----------------------------------------------------

    def _settle_reruns(self) -> None:
        failed = self.summary.failed_reports
        finished = {key for key in self.summary.reports_run if key not in failed}
        settle_requests(self.requests, self.config, finished, self.options.now)

