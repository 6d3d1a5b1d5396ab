"""``status``: how far each report is, and how it last failed.

Input: a config, an output folder and ``now``. Output: one ``ReportStatus``
per report key, printed as a table or as JSON (schema ``STATUS_VERSION``,
documented in docs/operator.md). Progress is read from the timelines' dates
(the TSV is the record); failures from the state file
``<output>/.reportupdater-state.json``, which a run keeps through the
``StateRecorder`` observer: the last failure of each report, dropped as soon
as the report runs again without failing; and the run in progress, if any,
from the query folder's lock (``lock.current_holder``). Status reads files only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import schedule, timeline as tl
from .cli import (EXIT_FAILED, EXIT_OK, OBSERVER_FACTORIES, PARSER_EXTENSIONS, _Formatter,
                  _add_common, add_folders, _moment, command, read_config, utcnow)
from .alerts.sink import firing_incidents
from .alerts.store import StateError
from .config import Config, ReportConfig
from .errors import TimelineError
from .intervals import Interval
from .lock import current_holder
from .pipeline import Failure, RunOptions, RunSummary

log = logging.getLogger(__name__)

STATE_NAME = ".reportupdater-state.json"
STATE_VERSION = 1
STATUS_VERSION = 1
ERROR_CHARS = 300  # a state entry keeps the first line of an error, this long at most


# -- the state file ------------------------------------------------------


def state_path(output_folder: Path) -> Path:
    return output_folder / STATE_NAME


def _utc(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def interval_json(interval: Interval | None) -> dict[str, str] | None:
    if interval is None:
        return None
    g = interval.granularity
    return {"start": g.format(interval.start), "end": g.format(interval.end)}


def short_error(error: str) -> str:
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    first = lines[0] if lines else "(no message)"
    return first if len(first) <= ERROR_CHARS else first[:ERROR_CHARS - 3] + "..."


def failure_entry(failure: Failure, count: int) -> dict[str, Any]:
    """A report's last failure as the state file and ``status --format json`` hold it."""
    return {"at": _utc(failure.at), "interval": interval_json(failure.interval),
            "explode": dict(failure.explode), "error": short_error(failure.error),
            "count": count}


def read_state(path: Path) -> tuple[dict[str, dict], str | None]:
    """The last failure per report, and why the file could not be read (or None)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return {}, f"state file {path} cannot be read: {e}"
    failures = raw.get("failures") if isinstance(raw, dict) else None
    if not isinstance(failures, dict) or raw.get("version") != STATE_VERSION:
        return {}, (f"state file {path} is not a version {STATE_VERSION} state file; "
                    "the next run replaces it")
    return {str(k): v for k, v in failures.items() if isinstance(v, dict)}, None


def write_state(path: Path, failures: Mapping[str, dict]) -> None:
    """Write the state file atomically. Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": STATE_VERSION, "failures": dict(failures)},
                      indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with tl.temporary_path(path) as temp:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def updated_failures(previous: Mapping[str, dict], summary: RunSummary,
                     report_keys: Iterable[str]) -> dict[str, dict]:
    """The state after a run: each report that ran keeps its last failure of this
    run, or none if it did not fail; entries of removed reports are dropped."""
    keys = set(report_keys)
    failures = {k: v for k, v in previous.items() if k in keys}
    by_report: dict[str, list[Failure]] = {}
    for failure in summary.failures:
        by_report.setdefault(failure.report, []).append(failure)
    for report in summary.reports_run:
        if report in by_report:
            failures[report] = failure_entry(by_report[report][-1], len(by_report[report]))
        else:
            failures.pop(report, None)
    return failures


class StateRecorder:
    """Run observer keeping the state file of the output folder up to date."""

    def __init__(self, config: Config, output_folder: Path):
        self.config = config
        self.path = state_path(output_folder)

    def run_finished(self, summary: RunSummary, seconds: float) -> None:
        previous, problem = read_state(self.path)
        if problem:
            log.warning("%s", problem)
        failures = updated_failures(previous, summary, self.config.report_keys)
        if failures == previous and not problem:
            return  # nothing changed: leave the file (or its absence) alone
        try:
            write_state(self.path, failures)
        except OSError as e:
            log.warning("cannot write the state file %s: %s; 'reportupdater status' will "
                        "not show this run's failures", self.path, e)


def state_observers(config: Config, args: argparse.Namespace,
                    options: RunOptions) -> list[StateRecorder]:
    return [StateRecorder(config, options.output_folder)]


OBSERVER_FACTORIES.append(state_observers)


# -- computing the status --------------------------------------------------


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
    def missing(self) -> int:
        return self.expected - self.done

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


def expected_labels(report: ReportConfig, now: dt.datetime) -> list[str]:
    """The dates of every interval due at ``now``, oldest first, as in a timeline."""
    bounds = schedule.window(report, now)
    if bounds is None:
        return []
    g = report.granularity
    return [g.format(start) for start in g.starts(*bounds)]


def report_status(report: ReportConfig, output_folder: Path, now: dt.datetime) -> ReportStatus:
    status = ReportStatus(report.key, report.type, report.granularity.value,
                          explode_total=report.combination_count(), owner=report.owner)
    if report.ends is not None:
        status.ends = f"{report.ends:%Y-%m-%d}"
        status.ended = report.ends <= now
    expected = expected_labels(report, now)
    expected_set = set(expected)
    oldest: list[str] = []
    present: list[str] = []
    for explode in report.explode_combinations():
        status.expected += len(expected)
        path = report.timeline_path(output_folder, explode)
        if not path.exists():
            oldest += expected[:1]
            continue
        status.explode_with_files += 1
        try:
            labels = tl.read_labels(path, report.granularity)
        except TimelineError as e:
            status.errors.append(str(e))
            continue
        if labels:
            present += [min(labels), max(labels)]  # fixed-width dates sort as text
        # Done as a run sees it: an interval whose start date is in the file.
        done = len(expected_set & labels)
        status.done += done
        if done < len(expected):
            oldest.append(next(label for label in expected if label not in labels))
    status.first_date = min(present, default=None)
    status.last_date = max(present, default=None)
    if oldest:
        g = report.granularity
        status.oldest_missing = Interval(dt.datetime.strptime(min(oldest), g.date_format), g)
    return status


def collect_status(config: Config, output_folder: Path, now: dt.datetime,
                   one_report: Callable[[ReportConfig, Path, dt.datetime],
                                        ReportStatus] = report_status,
                   ) -> tuple[list[ReportStatus], str | None]:
    """One status per report key, in config order, and the state file's problem.

    ``one_report`` computes a valid report's status (a server passes a cached
    ``report_status``)."""
    failures, problem = read_state(state_path(output_folder))
    try:
        firing = firing_incidents(output_folder)
    except StateError as e:
        firing = []
        problem = f"{problem}; {e}" if problem else str(e)
    statuses = []
    for key in config.report_keys:
        report = config.report(key)
        if report is None:
            status = ReportStatus(key)
            status.errors += [f"config: {p}" for p in config.errors if p.report == key]
        else:
            status = one_report(report, output_folder, now)
        status.last_failure = failures.get(key)
        status.alerts_firing = [firing_entry(i) for i in firing if i.get("report") == key]
        statuses.append(status)
    return statuses, problem


def firing_entry(incident: Mapping[str, Any]) -> dict[str, Any]:
    """A firing alert as ``status --format json`` shows it."""
    return {"rule": incident.get("rule"), "series": incident.get("series_name"),
            "since": incident.get("fired_at"),
            "value": incident.get("last_value") or incident.get("value"),
            "detail": incident.get("detail"), "incident_id": incident.get("incident_id")}


# -- the command -------------------------------------------------------------


STATUS_DOC = """\
Show, for each report: its type and granularity; for how many explode
combinations a file exists; the first and last date present; the intervals
done and expected now; how many are missing and the oldest missing one; the
last failure a run recorded (in OUTPUT_FOLDER/.reportupdater-state.json); its
end date ("ended" once passed) and owner; the alerts firing; and the run in
progress, if one holds the query folder's lock, and since when.
It reads files only. --format json prints a stable document for monitoring
(see docs/operator.md for its schema).

Exit status: 0 no report has a recorded failure or an error; 1 some report
has (its last run failed, its config has errors, or a file can't be read), or
the run in progress has taken longer than max_run_seconds; 2 bad invocation or
unreadable config.

Example:
  reportupdater status queries output
  reportupdater status queries output --format json --now 2026-11-01
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser("status", formatter_class=_Formatter,
                            help="how far each report is, and its last failure",
                            description=STATUS_DOC)
    add_folders(status)
    status.add_argument("--format", choices=("table", "json"), default="table",
                        help="a table for people, or JSON for monitoring (default: table)")
    status.add_argument("--now", type=_moment, metavar="DATETIME",
                        help="pretend it is this UTC time (default: the clock)")
    _add_common(status)


PARSER_EXTENSIONS.append(add_parser)


@command("status")
def cmd_status(args: argparse.Namespace) -> int:
    config = read_config(args)
    now = args.now or utcnow()
    if not args.output_folder.is_dir():
        log.warning("output folder %s does not exist: no report has been written yet",
                    args.output_folder)
    statuses, problem = collect_status(config, args.output_folder, now)
    holder, clock = current_holder(args.query_folder), time.time()
    stuck = holder is not None and holder.is_stuck(config.max_run_seconds, clock)
    if args.format == "json":
        document = status_document(
            config, args.query_folder, args.output_folder, now, statuses, problem,
            holder.as_json(config.max_run_seconds, clock) if holder is not None else None)
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(format_table(statuses, problem))
        if holder is not None:
            print(f"\n{holder.status_line(config.max_run_seconds, clock)}")
    failing = stuck or any(s.errors or s.last_failure for s in statuses)
    return EXIT_FAILED if failing else EXIT_OK


def status_document(config: Config, query_folder: Path, output_folder: Path,
                    now: dt.datetime, statuses: Sequence[ReportStatus],
                    problem: str | None, run_in_progress: dict[str, Any] | None
                    ) -> dict[str, Any]:
    """The ``status --format json`` document (schema ``STATUS_VERSION``)."""
    return {
        "version": STATUS_VERSION,
        "now": _utc(now),
        "config": str(config.path),
        "query_folder": str(query_folder),
        "output_folder": str(output_folder),
        "state_error": problem,
        "run_in_progress": run_in_progress,
        "reports": [s.as_json() for s in statuses],
    }


def format_table(statuses: Sequence[ReportStatus], state_problem: str | None = None) -> str:
    header = ["REPORT", "TYPE", "GRANULARITY", "FILES", "FIRST", "LAST", "DONE/EXPECTED",
              "MISSING", "OLDEST MISSING", "LAST FAILURE", "ENDS", "OWNER"]
    rows = [header]
    for s in statuses:
        failure = s.last_failure
        rows.append([
            s.report, s.type or "?", s.granularity or "?",
            f"{s.explode_with_files}/{s.explode_total}" if s.type else "-",
            s.first_date or "-", s.last_date or "-",
            f"{s.done}/{s.expected}" if s.type else "-",
            str(s.missing) if s.type else "-",
            s.oldest_missing.label if s.oldest_missing else "-",
            str(failure.get("at", "?")) if failure else "-",
            (f"{s.ends} (ended)" if s.ended else s.ends) if s.ends else "-",
            (s.owner[0] + (f" +{len(s.owner) - 1}" if len(s.owner) > 1 else ""))
            if s.owner else "-",
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in rows]
    problems = [f"  {s.report}: {error}" for s in statuses for error in s.errors]
    if state_problem:
        problems.append(f"  {state_problem}")
    if problems:
        lines += ["", "Problems:", *problems]
    alerts = [(s.report, a) for s in statuses for a in s.alerts_firing]
    if alerts:
        lines += ["", "Firing alerts:"]
        for report, a in alerts:
            lines.append(f"  {report} ({a['series']}) rule {a['rule']!r} since {a['since']}: "
                         f"{a['detail']}")
    failed = [s for s in statuses if s.last_failure]
    if failed:
        lines += ["", "Last failures:"]
        for s in failed:
            lines.append(f"  {s.report}: {describe_failure(s.last_failure)}")
    return "\n".join(lines)


def describe_failure(entry: Mapping[str, Any]) -> str:
    where = []
    interval = entry.get("interval")
    if isinstance(interval, dict):
        where.append(f"interval {interval.get('start')}..{interval.get('end')}")
    else:
        where.append("the whole timeline")
    explode = entry.get("explode") or {}
    if explode:
        where.append(" ".join(f"{k}={v}" for k, v in explode.items()))
    count = entry.get("count", 1)
    more = f" ({count} failures in that run)" if isinstance(count, int) and count > 1 else ""
    return f"{entry.get('at', '?')} {', '.join(where)}: {entry.get('error', '?')}{more}"

