"""``reportupdater run``: compute every missing interval (or list them, ``--dry-run``)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .. import api
from ..config import Config
from ..errors import LockHeldError, RunStuckError, UsageError
from ..lock import run_lock
from ..planning import check_report_names
from ..summary import RunSummary, utcnow
from .common import (EXIT_ALERT, EXIT_FAILED, EXIT_OK, EXIT_QUEUED, EXIT_STUCK, Formatter,
                     add_common, add_folders, moment, read_config)

if TYPE_CHECKING:
    from ..alerts.sink import AlertSink

NAME = "run"

log = logging.getLogger("reportupdater")

DOC = """\
Compute every missing interval of every report and merge the results into the
TSV timelines in OUTPUT_FOLDER. Intervals that a rerun request names are
recomputed and their rows replaced. Only one run per query folder runs at a
time; a second one exits 0 at once. A run stops itself after max_run_seconds
(config; default 6 hours), writing what has finished.

Exit status: 0 all due intervals succeeded, or another run holds the lock;
1 a report failed to read, execute or write (the others still ran), or the run
passed max_run_seconds and stopped; 2 bad invocation or unreadable config;
3 everything was written but Graphite points wait in the outbox; 4 with
--fail-on-alert, an alert is firing after the run (1 wins over 4, 4 over 3);
5 another run has held the lock for longer than max_run_seconds (it may be
hung; the message names its PID and start time). A message about an alert
that can't be delivered waits in the outbox and changes no exit status.

Example:
  reportupdater run queries output
  reportupdater run queries output -r toggles_by_editor --now 2026-11-01
  reportupdater run queries output --from 2026-10-01 --until 2026-10-08

--from and --until restrict the run to the intervals from the one containing
--from up to the last one starting before --until, without editing the
config: rows outside that window are never deleted, not even by
max_data_points, and rerun requests are kept for the next full run.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(NAME, formatter_class=Formatter,
                         help="compute every missing interval", description=DOC)
    add_folders(run)
    run.add_argument("-r", "--report", action="append", default=[], metavar="REPORT",
                     help="run only this report (repeatable)")
    run.add_argument("--now", type=moment, metavar="DATETIME",
                     help="pretend it is this UTC time (default: the clock)")
    run.add_argument("-j", "--jobs", type=int, metavar="N",
                     help="intervals executed at once (default: config 'jobs', else 4)")
    run.add_argument("--from", dest="start", type=moment, metavar="YYYY-MM-DD",
                     help="only intervals from the one containing this date; rows "
                          "outside the window are never touched")
    run.add_argument("--until", type=moment, metavar="YYYY-MM-DD",
                     help="only intervals starting before this date (exclusive)")
    run.add_argument("--no-graphite", action="store_true",
                     help="send nothing to Graphite and queue nothing")
    run.add_argument("--dry-run", action="store_true",
                     help="list the intervals that would execute; connect nowhere, "
                          "write nothing")
    run.add_argument("--rebuild", action="store_true",
                     help="keep a timeline written for another granularity beside it "
                          "as NAME.GRANULARITY.bak and recompute its report from the "
                          "start (default: refuse such a timeline)")
    run.add_argument("--checkpoint-seconds", type=float, default=60.0,
                     help=argparse.SUPPRESS)
    run.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                     help="progress bar on stderr (default: auto, only on a terminal)")
    run.add_argument("--fail-on-alert", action="store_true",
                     help="exit 4 when an alert is firing after the run")
    run.add_argument("--no-alerts", action="store_true",
                     help="judge no alert rule, send no alert and leave incidents as "
                          "they are (for development copies)")
    add_common(run)
    run.set_defaults(command_main=main)


def main(args: argparse.Namespace) -> int:
    config = read_config(args)
    check_report_names(config, args.report)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {args.jobs}")
    if args.start and args.until and args.until <= args.start:
        raise UsageError(f"--until {args.until:%Y-%m-%d} must come after --from "
                         f"{args.start:%Y-%m-%d} (it is exclusive)")
    now = args.now or utcnow()
    if args.dry_run:
        return print_plan(config, args, now)
    try:
        with run_lock(args.query_folder, config.max_run_seconds):
            publishers = sinks(config, args, now)
            alerts = None if args.no_alerts or not alerts_in_use(config, args.output_folder) \
                else alert_sink(config, args, now)
            summary = api.run(config, args.output_folder, now=now, reports=args.report,
                              jobs=args.jobs, sinks=[*publishers, *filter(None, [alerts])],
                              lock=False,
                              checkpoint_seconds=args.checkpoint_seconds, start=args.start,
                              until=args.until, rebuild=args.rebuild)
    except RunStuckError as e:
        log.error("%s", e)
        return EXIT_STUCK
    except LockHeldError as e:
        log.info("%s; this run exits without doing anything", e)
        return EXIT_OK
    log.info("run finished: %d interval(s) executed, %d row(s) written to %d file(s), "
             "%d failure(s)", summary.intervals_executed, summary.rows_written,
             summary.files_written, len(summary.failures))
    firing = alerts is not None and alerts.firing > 0
    return exit_status(config, summary, args.fail_on_alert and firing)


def exit_status(config: Config, summary: RunSummary, alert_fails: bool = False) -> int:
    if summary.failures or config.errors or summary.stopped_by_time_limit:
        return EXIT_FAILED
    if alert_fails:
        return EXIT_ALERT
    if summary.graphite_queued:
        return EXIT_QUEUED
    return EXIT_OK


def sinks(config: Config, args: argparse.Namespace, now: dt.datetime) -> list[object]:
    """The run's sinks that publish, in order: Graphite, StatsD, the state file,
    the progress bar (the alert sink comes after them).

    --no-graphite leaves out Graphite and StatsD: development copies must not
    touch production metrics.
    """
    chosen: list[object] = []
    if config.graphite is not None and not args.no_graphite:
        from ..publish.graphite import GraphiteSink
        chosen.append(GraphiteSink(config.graphite, args.output_folder))
    if config.statsd is not None and not args.no_graphite:
        from ..publish.statsd import StatsdSink
        try:
            chosen.append(StatsdSink.connect(config.statsd))
        except OSError as e:
            log.warning("statsd: cannot use %s:%s (%s); this run sends no health metrics",
                        config.statsd.host, config.statsd.port, e)
    from ..publish.state import StateRecorder
    chosen.append(StateRecorder(config.report_keys, args.output_folder))
    bar = progress_bar(config, args, now, sys.stderr)
    if bar is not None:
        chosen.append(bar)
    return chosen


def alerts_in_use(config: Config, output_folder: Path) -> bool:
    """Whether this run has alerts to judge or deliver: a rule, an alerting
    section, or incidents and messages an earlier run left in the output folder.
    Without them the hourly run skips loading the alerting code."""
    from ..alerts.store import OUTBOX_DIR, STATE_NAME

    return (config.alerting is not None or any(r.alerts for r in config.reports)
            or (output_folder / STATE_NAME).exists() or (output_folder / OUTBOX_DIR).exists())


def alert_sink(config: Config, args: argparse.Namespace, now: dt.datetime) -> "AlertSink":
    """The sink that judges the alert rules once the run is done (last of all); it
    counts in StatsD unless --no-graphite."""
    from ..alerts.sink import AlertSink  # loaded when a run is sure to start

    statsd = None
    if config.statsd is not None and not args.no_graphite:
        from ..publish.statsd import statsd_client
        try:
            statsd = statsd_client(config.statsd)
        except OSError as e:
            log.warning("statsd: cannot use %s:%s (%s); alerts are not counted",
                        config.statsd.host, config.statsd.port, e)
    return AlertSink(config, args.output_folder, now, args.report, statsd)


def progress_bar(config: Config, args: argparse.Namespace, now: dt.datetime,
                 stream: TextIO) -> object | None:
    """A bar drawn on ``stream``, or None (not wanted, or nothing is due)."""
    from ..publish.progress import ProgressBar, count_planned, wants_bar

    if not wants_bar(args.progress, stream):
        return None
    total = count_planned(config, args.output_folder, now, args.report, args.start,
                          args.until)
    if total == 0:
        return None
    bar = ProgressBar(total, stream)
    bar.attach_logs()
    bar.draw(force=True)
    return bar


def print_plan(config: Config, args: argparse.Namespace, now: dt.datetime) -> int:
    """Print the plan; 1 if a timeline can't be read or a report has config errors."""
    plan = api.plan(config, args.output_folder, now=now, reports=args.report,
                    start=args.start, until=args.until)
    per_report: dict[str, int] = {}
    try:
        for planned in plan.intervals():
            print(planned.line())
            per_report[planned.report] = per_report.get(planned.report, 0) + 1
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) has what it wanted; don't die on the next write.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    total = sum(per_report.values())
    counts = ", ".join(f"{report} {count}" for report, count in per_report.items())
    print(f"{total} interval(s) would execute" + (f": {counts}" if counts else ""),
          file=sys.stderr)
    return EXIT_FAILED if plan.failures or config.errors else EXIT_OK
