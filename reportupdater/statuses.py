"""``status``: how far each report is, and how it last failed.

Input: a config, an output folder and ``now``. Output: one ``ReportStatus``
per report key, in config order (``as_json`` gives the documented schema,
``STATUS_VERSION``). Progress is read from the timelines' dates (the TSV is
the record) with the run's own plan (``planning.Plan``): an interval is done
when the run would not execute it, so ``status`` and ``run`` never disagree.
Failures come from the state file a run keeps (``publish.state``), the
alerts firing from the incidents it keeps (``alerts``), and the run in
progress, if any, from the query folder's lock (``lock.current_holder``).
Status reads files only.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import schedule, timeline as tl
from .config import Config, ReportConfig
from .errors import TimelineError
from .intervals import Interval
from .lock import LockHolder, current_holder
from .alerts.sink import firing_incidents
from .alerts.store import StateError
from .planning import Plan
from .publish.state import STATE_NAME, interval_json, read_state, state_path, utc_text
from .summary import utcnow
from .triage import CACHE_NAME as TRIAGE_CACHE, TriageCache

__all__ = ["STATE_NAME", "STATUS_VERSION", "ReportStatus", "Statuses", "report_status",
           "status", "status_document"]

STATUS_VERSION = 1


@dataclass
class ReportStatus:
    report: str
    type: str | None = None
    granularity: str | None = None
    explode_with_files: int = 0
    explode_total: int = 0
    first_date: str | None = None
    last_date: str | None = None
    done: int = 0
    expected: int = 0
    oldest_missing: Interval | None = None
    last_failure: dict | None = None
    errors: list[str] = field(default_factory=list)
    owner: tuple[str, ...] = ()
    ends: str | None = None  # YYYY-MM-DD
    ended: bool = False  # ends has passed: nothing more is computed
    alerts_firing: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.report

    @property
    def missing(self) -> int:
        return self.expected - self.done

    @property
    def failing(self) -> bool:
        """Its last run failed, its config has errors, or a file can't be read."""
        return bool(self.errors or self.last_failure)

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.report,
            "type": self.type,
            "granularity": self.granularity,
            "explode": {"with_files": self.explode_with_files, "total": self.explode_total},
            "first_date": self.first_date,
            "last_date": self.last_date,
            "intervals": {"done": self.done, "expected": self.expected,
                          "missing": self.missing,
                          "oldest_missing": interval_json(self.oldest_missing)},
            "last_failure": self.last_failure,
            "errors": list(self.errors),
            "owner": list(self.owner),
            "ends": self.ends,
            "ended": self.ended,
            "alerts_firing": list(self.alerts_firing),
        }


class Statuses(list):
    """The ``ReportStatus`` of every report key, and what concerns them all."""

    state_error: str | None = None  # why the state file can't be read
    run_in_progress: LockHolder | None = None  # the run holding the lock, if any
    checked_at: float = 0.0  # Unix time the lock was looked at
    max_run_seconds: float | None = None

    @property
    def stuck(self) -> bool:
        """The run in progress has taken longer than max_run_seconds."""
        holder = self.run_in_progress
        return holder is not None and holder.is_stuck(self.max_run_seconds, self.checked_at)

    @property
    def failing(self) -> bool:
        return self.stuck or any(s.failing for s in self)


def report_status(report: ReportConfig, plan: Plan) -> ReportStatus:
    """How far one report is at ``plan.now``: the run's plan of each of its
    timelines (without rerun requests), counted."""
    status = ReportStatus(report.key, report.type, report.granularity.value,
                          explode_total=report.combination_count(), owner=report.owner)
    if report.ends is not None:
        status.ends = f"{report.ends:%Y-%m-%d}"
        status.ended = report.ends <= plan.now
    expected = schedule.expected_count(report, plan.now)
    present: list[str] = []
    oldest: list[Interval] = []
    for explode in report.explode_combinations():
        status.expected += expected
        timeline = plan.timeline(report, explode)
        if timeline.path.exists():
            status.explode_with_files += 1
        if timeline.error is not None:
            status.errors.append(timeline.error)
            continue
        first_due = next(timeline.due, None)
        if first_due is not None:
            oldest.append(first_due)
        status.done += expected - (first_due is not None) - sum(1 for _ in timeline.due)
        try:
            labels = tl.read_labels(timeline.path, report.granularity)
        except TimelineError as e:  # changed since it was planned
            status.errors.append(str(e))
            continue
        if labels:
            present += [min(labels), max(labels)]  # fixed-width dates sort as text
    status.first_date = min(present, default=None)
    status.last_date = max(present, default=None)
    status.oldest_missing = min(oldest, default=None)
    return status


def status(config: Config, output_folder: Path, now: dt.datetime | None = None,
           one_report: Callable[[ReportConfig, Plan], ReportStatus] = report_status
           ) -> Statuses:
    """One status per report key, in config order; reports with config errors
    get their errors and no counts. ``one_report`` computes a valid report's
    status (a server passes a cached ``report_status``)."""
    output_folder = Path(output_folder)
    # The run's plan, reading dates as the run does (its triage cache is only
    # read here, never written); rerun requests don't count.
    plan = Plan(config, output_folder, now or utcnow(), requests=(),
                coverage=TriageCache(config.query_folder / TRIAGE_CACHE).coverage)
    failures, problem = read_state(state_path(output_folder))
    try:
        firing = firing_incidents(output_folder)
    except StateError as e:
        firing = []
        problem = f"{problem}; {e}" if problem else str(e)
    statuses = Statuses()
    statuses.state_error = problem
    statuses.run_in_progress = current_holder(config.query_folder)
    statuses.checked_at = time.time()
    statuses.max_run_seconds = config.max_run_seconds
    for key in config.report_keys:
        report = config.report(key)
        if report is None:
            report_state = ReportStatus(key)
            report_state.errors += [f"config: {p}" for p in config.errors if p.report == key]
        else:
            report_state = one_report(report, plan)
        report_state.last_failure = failures.get(key)
        report_state.alerts_firing = [firing_entry(i) for i in firing
                                      if i.get("report") == key]
        statuses.append(report_state)
    return statuses


def firing_entry(incident: Mapping[str, Any]) -> dict[str, Any]:
    """A firing alert as ``status --format json`` shows it."""
    return {"rule": incident.get("rule"), "series": incident.get("series_name"),
            "since": incident.get("fired_at"),
            "value": incident.get("last_value") or incident.get("value"),
            "detail": incident.get("detail"), "incident_id": incident.get("incident_id")}


def status_document(config: Config, query_folder: Path, output_folder: Path,
                    now: dt.datetime, statuses: Sequence[ReportStatus],
                    problem: str | None, run_in_progress: dict[str, Any] | None
                    ) -> dict[str, Any]:
    """The ``status --format json`` document (schema ``STATUS_VERSION``)."""
    return {
        "version": STATUS_VERSION,
        "now": utc_text(now),
        "config": str(config.path),
        "query_folder": str(query_folder),
        "output_folder": str(output_folder),
        "state_error": problem,
        "run_in_progress": run_in_progress,
        "reports": [s.as_json() for s in statuses],
    }
