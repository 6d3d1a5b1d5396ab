"""``reportupdater try``: execute a report for chosen dates and print the TSV a
run would merge. The work is ``reportupdater.localrun.trying``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..errors import UsageError
from ..rendering import usable_report
from .common import (EXIT_FAILED, EXIT_OK, Formatter, add_common, add_query_folder,
                     explode_arguments, moment, read_config)

NAME = "try"

log = logging.getLogger("reportupdater")

DOC = """\
Render and execute REPORT for the interval containing --date, or for every
interval from --from up to --until (exclusive), and print to stdout exactly
the TSV a run would merge: the header once, then the rows in date order.
With --fixtures DIR, sql and hive reports run on an embedded DuckDB over the
tables in DIR (DIR/<schema>/<table>.jsonl, .csv, .tsv or .parquet), their
query transpiled from MariaDB or Hive SQL; scripts get DIR in the variable
REPORTUPDATER_FIXTURES. Without it, the report runs on its configured engine.
Nothing is written, nothing is sent to Graphite or StatsD, no lock is taken
and .reruns/ is not touched.

Exit status: 0 every interval succeeded; 1 an interval failed (the others
are printed); 2 bad invocation, unknown report or explode value.

Example:
  reportupdater try queries toggles_by_editor --date 2026-10-05 --explode wiki=enwiki
  reportupdater try queries edits --from 2026-10-01 --until 2026-10-08 --fixtures fx
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(NAME, formatter_class=Formatter,
                            help="execute a report for some dates and print its TSV",
                            description=DOC)
    add_try_arguments(parser)
    parser.add_argument("--fixtures", type=Path, metavar="DIR",
                        help="run on an embedded DuckDB over the tables in DIR")
    add_common(parser)
    parser.set_defaults(command_main=main)


def add_try_arguments(parser: argparse.ArgumentParser) -> None:
    add_query_folder(parser)
    parser.add_argument("report", metavar="REPORT", help="the report to execute")
    parser.add_argument("--date", type=moment, metavar="YYYY-MM-DD",
                        help="a date (or date and time) inside the interval to execute")
    parser.add_argument("--from", dest="start", type=moment, metavar="YYYY-MM-DD",
                        help="first date of a range of intervals")
    parser.add_argument("--until", type=moment, metavar="YYYY-MM-DD",
                        help="end of the range (exclusive)")
    parser.add_argument("--explode", action="append", default=[], metavar="NAME=VALUE",
                        help="the value of an explode placeholder (repeatable)")



def check_dates(args: argparse.Namespace) -> None:
    if args.date is not None and (args.start is not None or args.until is not None):
        raise UsageError("give either --date or --from and --until, not both")
    if args.date is None and (args.start is None or args.until is None):
        raise UsageError("give --date, or both --from and --until")


def main(args: argparse.Namespace) -> int:
    from ..localrun.trying import intervals_in, try_report  # not on every command's path

    check_dates(args)
    if args.fixtures is not None and not args.fixtures.is_dir():
        raise UsageError(f"--fixtures {str(args.fixtures)!r} does not exist or is not a "
                         "folder")
    config = read_config(args)
    report = usable_report(config, args.report)
    explode = explode_arguments(report, args.explode)
    intervals = intervals_in(report, args.date, args.start, args.until)
    result = try_report(config, report, explode, intervals, args.fixtures)
    sys.stdout.write(result.tsv())
    for failure in result.failures:
        log.error("%s", failure.describe())
    return EXIT_FAILED if result.failures else EXIT_OK
