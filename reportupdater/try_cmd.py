"""``try``: execute a report for chosen dates and print the TSV a run would merge.

Argument parsing only; the work is ``reportupdater.localrun.trying``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .cli import (EXIT_FAILED, EXIT_OK, PARSER_EXTENSIONS, _Formatter, _add_common, _moment,
                  command, read_config)
from .errors import UsageError
from .render_cmd import explode_values, usable_report

log = logging.getLogger(__name__)

TRY_DOC = """\
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
    parser = sub.add_parser("try", formatter_class=_Formatter,
                            help="execute a report for some dates and print its TSV",
                            description=TRY_DOC)
    add_try_arguments(parser)
    parser.add_argument("--fixtures", type=Path, metavar="DIR",
                        help="run on an embedded DuckDB over the tables in DIR")
    _add_common(parser)


def add_try_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query_folder", nargs="?", type=Path, default=Path("queries"),
                        metavar="QUERY_FOLDER", help="folder of templates and config.yaml "
                        "(default: ./queries)")
    parser.add_argument("report", metavar="REPORT", help="the report to execute")
    parser.add_argument("--date", type=_moment, metavar="YYYY-MM-DD",
                        help="a date (or date and time) inside the interval to execute")
    parser.add_argument("--from", dest="start", type=_moment, metavar="YYYY-MM-DD",
                        help="first date of a range of intervals")
    parser.add_argument("--until", type=_moment, metavar="YYYY-MM-DD",
                        help="end of the range (exclusive)")
    parser.add_argument("--explode", action="append", default=[], metavar="NAME=VALUE",
                        help="the value of an explode placeholder (repeatable)")


PARSER_EXTENSIONS.append(add_parser)


def check_dates(args: argparse.Namespace) -> None:
    if args.date is not None and (args.start is not None or args.until is not None):
        raise UsageError("give either --date or --from and --until, not both")
    if args.date is None and (args.start is None or args.until is None):
        raise UsageError("give --date, or both --from and --until")


@command("try")
def cmd_try(args: argparse.Namespace) -> int:
    from .localrun.trying import intervals_in, try_report

    check_dates(args)
    if args.fixtures is not None and not args.fixtures.is_dir():
        raise UsageError(f"--fixtures {str(args.fixtures)!r} does not exist or is not a "
                         "folder")
    config = read_config(args)
    report = usable_report(config, args.report)
    explode = explode_values(report, args.explode)
    intervals = intervals_in(report, args.date, args.start, args.until)
    result = try_report(config, report, explode, intervals, args.fixtures)
    sys.stdout.write(result.tsv())
    for failure in result.failures:
        log.error("%s", failure.describe())
    return EXIT_FAILED if result.failures else EXIT_OK
