"""The ``reportupdater`` command: a thin layer over the library.

It parses arguments, sets up logging, calls the library and turns its named
exceptions and results into messages and exit statuses. Nothing else here
knows how reports are computed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .config import Config, load_config
from .errors import (ConfigError, LockHeldError, ReportUpdaterError, RerunError,
                     RunStuckError, UsageError)
from .intervals import parse_moment
from .lock import run_lock
from .logs import LEVELS, setup_logging
from .pipeline import Runner, RunOptions
from .reruns import validate_rerun, write_request

log = logging.getLogger("reportupdater")

EXIT_OK = 0  # everything due succeeded
EXIT_FAILED = 1  # a report failed to read, execute or write
EXIT_USAGE = 2  # bad invocation or an unreadable config
EXIT_QUEUED = 3  # data written, but Graphite points wait in the outbox
EXIT_ALERT = 4  # run --fail-on-alert: an alert is firing after the run
EXIT_STUCK = 5  # another run has held the lock for longer than max_run_seconds

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable:
    def register(function: Callable[[argparse.Namespace], int]) -> Callable:
        COMMANDS[name] = function
        return function
    return register


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=88)


def _moment(text: str) -> dt.datetime:
    try:
        return parse_moment(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_common(parser: argparse.ArgumentParser, config: bool = True) -> None:
    if config:
        parser.add_argument("--config-path", type=Path, metavar="PATH",
                            help="config file (default: QUERY_FOLDER/config.yaml, else "
                                 "./config.yaml)")
    parser.add_argument("-l", "--log-level", choices=LEVELS, default="info",
                        help="how much to log (default: info)")
    parser.add_argument("--log-file", metavar="PATH", help="log to this file, not stderr")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="text lines, or one JSON object per line (default: text)")


def add_folders(parser: argparse.ArgumentParser) -> None:
    """The optional positional QUERY_FOLDER and OUTPUT_FOLDER of run, status, push."""
    parser.add_argument("query_folder", nargs="?", type=Path, default=Path("queries"),
                        metavar="QUERY_FOLDER", help="folder of templates and config.yaml "
                        "(default: ./queries)")
    parser.add_argument("output_folder", nargs="?", type=Path, default=Path("output"),
                        metavar="OUTPUT_FOLDER", help="where timelines are written "
                        "(default: ./output)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reportupdater", formatter_class=_Formatter,
        description="Compute missing data points of reports into TSV timelines.",
        epilog="Run 'reportupdater COMMAND --help' for a command's options.\n"
               "'reportupdater QUERY_FOLDER OUTPUT_FOLDER' (the original form) means 'run'.")
    parser.add_argument("--version", action="version", version=f"reportupdater {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", formatter_class=_Formatter, help="compute every missing interval",
        description=RUN_DOC)
    add_folders(run)
    run.add_argument("-r", "--report", action="append", default=[], metavar="REPORT",
                     help="run only this report (repeatable)")
    run.add_argument("--now", type=_moment, metavar="DATETIME",
                     help="pretend it is this UTC time (default: the clock)")
    run.add_argument("-j", "--jobs", type=int, metavar="N",
                     help="intervals executed at once (default: config 'jobs', else 4)")
    run.add_argument("--from", dest="start", type=_moment, metavar="YYYY-MM-DD",
                     help="only intervals from the one containing this date; rows "
                          "outside the window are never touched")
    run.add_argument("--until", type=_moment, metavar="YYYY-MM-DD",
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
    _add_common(run)

    rerun = sub.add_parser(
        "rerun", formatter_class=_Formatter, help="ask the next run to recompute dates",
        description=RERUN_DOC)
    rerun.add_argument("query_folder", type=Path, metavar="QUERY_FOLDER")
    rerun.add_argument("start", type=_moment, metavar="START", help="first date, YYYY-MM-DD")
    rerun.add_argument("end", type=_moment, metavar="END",
                       help="end date (exclusive), YYYY-MM-DD")
    rerun.add_argument("-r", "--report", action="append", default=[], metavar="REPORT",
                       help="rerun only this report (repeatable; default: all)")
    rerun.add_argument("--now", type=_moment, metavar="DATETIME", help=argparse.SUPPRESS)
    _add_common(rerun)

    for extend in PARSER_EXTENSIONS:
        extend(sub)
    return parser


RUN_DOC = """\
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

RERUN_DOC = """\
Write a rerun request into QUERY_FOLDER/.reruns/. The next run recomputes the
intervals overlapping [START, END) of the named reports, for every explode
value, replaces their rows, then deletes the request.

Example:
  reportupdater rerun queries 2026-10-01 2026-10-08 -r weekly_toggles
"""

# Other modules add subcommands here: callables taking the subparsers object.
PARSER_EXTENSIONS: list[Callable] = []


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def read_config(args: argparse.Namespace) -> Config:
    """Load and validate the config, logging every problem. Raises ConfigError."""
    if not args.query_folder.is_dir():
        raise UsageError(f"query folder {str(args.query_folder)!r} does not exist or is not "
                         "a folder")
    config = load_config(args.query_folder, args.config_path)
    for problem in config.problems:
        if problem.severity == "warning":
            log.warning("config: %s", problem)
        else:
            log.error("config: %s (report skipped)" if problem.report else "config: %s",
                      problem)
    return config


def check_report_names(config: Config, names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in config.report_keys]
    if unknown:
        raise UsageError(f"unknown report {', '.join(map(repr, unknown))}; the config "
                         f"{config.path} has: {', '.join(config.report_keys) or 'none'}")


# Builders of run observers (Graphite, StatsD, progress...), registered by
# their modules: called with (config, args, options) and returning observers.
OBSERVER_FACTORIES: list[Callable] = []


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    config = read_config(args)
    check_report_names(config, args.report)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {args.jobs}")
    if args.start and args.until and args.until <= args.start:
        raise UsageError(f"--until {args.until:%Y-%m-%d} must come after --from "
                         f"{args.start:%Y-%m-%d} (it is exclusive)")
    options = RunOptions(
        output_folder=args.output_folder, now=args.now or utcnow(),
        reports=tuple(args.report), jobs=args.jobs or config.jobs or 4,
        checkpoint_seconds=args.checkpoint_seconds, start=args.start, until=args.until,
        rebuild=args.rebuild and not args.dry_run)  # a dry run moves nothing
    if args.dry_run:
        from .plan import print_plan
        return print_plan(config, options)
    try:
        with run_lock(args.query_folder, config.max_run_seconds):
            observers = [o for factory in OBSERVER_FACTORIES
                         for o in factory(config, args, options)]
            summary = Runner(config, options, observers).run()
    except RunStuckError as e:
        log.error("%s", e)
        return EXIT_STUCK
    except LockHeldError as e:
        log.info("%s; this run exits without doing anything", e)
        return EXIT_OK
    log.info("run finished: %d interval(s) executed, %d row(s) written to %d file(s), "
             "%d failure(s)", summary.intervals_executed, summary.rows_written,
             summary.files_written, len(summary.failures))
    if summary.failures or config.errors or summary.stopped_by_time_limit:
        return EXIT_FAILED
    # The alert sink counts the incidents open after the run.
    if args.fail_on_alert and any(getattr(o, "firing", 0) for o in observers):
        return EXIT_ALERT
    if summary.graphite_queued:
        return EXIT_QUEUED
    return EXIT_OK


@command("rerun")
def cmd_rerun(args: argparse.Namespace) -> int:
    config = read_config(args)
    check_report_names(config, args.report)
    validate_rerun(args.start, args.end, args.now or utcnow())
    reports = args.report or list(config.report_keys)
    path = write_request(args.query_folder, args.start, args.end, reports)
    print(f"Rerun requested: {path} ({args.start:%Y-%m-%d} to {args.end:%Y-%m-%d}, "
          f"{len(reports)} report(s)). The next run recomputes them.")
    return EXIT_OK


def _normalise_argv(argv: list[str]) -> list[str]:
    """The original's ``update_reports.py QUERY_FOLDER OUTPUT_FOLDER`` form means run."""
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        return ["run", *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    _load_extensions()
    argv = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return EXIT_USAGE if e.code not in (0, None) else EXIT_OK
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    setup_logging(args.log_level, args.log_file, args.log_format)
    try:
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError, RerunError) as e:
        log.error("%s", e)
        if args.log_file:  # the person at the terminal must still see why
            print(f"Error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ReportUpdaterError as e:
        log.error("%s", e)
        return EXIT_FAILED
    except KeyboardInterrupt:
        log.error("interrupted; every file written so far is complete")
        return 130


def _load_extensions() -> None:
    """Import the modules that add commands and observers (once)."""
    import importlib

    for name in EXTENSION_MODULES:
        importlib.import_module(name)


# Modules that register commands (PARSER_EXTENSIONS, COMMANDS) and run
# observers (OBSERVER_FACTORIES) when imported.
EXTENSION_MODULES: list[str] = []
EXTENSION_MODULES += ["reportupdater.graphite", "reportupdater.health"]  # in this order
EXTENSION_MODULES += ["reportupdater.validate", "reportupdater.render_cmd",
                      "reportupdater.status", "reportupdater.progress"]
EXTENSION_MODULES += ["reportupdater.try_cmd", "reportupdater.test_cmd",
                      "reportupdater.fixtures_cmd"]
EXTENSION_MODULES += ["reportupdater.serve_cmd", "reportupdater.dashboard_cmd"]
EXTENSION_MODULES += ["reportupdater.metric_cmd"]
EXTENSION_MODULES += ["reportupdater.alerts_cmd"]
