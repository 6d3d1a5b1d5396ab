"""``reportupdater rerun``: ask the next run to recompute dates."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..planning import check_report_names
from ..reruns import validate_rerun, write_request
from ..summary import utcnow
from .common import EXIT_OK, Formatter, add_common, moment, read_config

NAME = "rerun"

DOC = """\
Write a rerun request into QUERY_FOLDER/.reruns/. The next run recomputes the
intervals overlapping [START, END) of the named reports, for every explode
value, replaces their rows, then deletes the request.

Example:
  reportupdater rerun queries 2026-10-01 2026-10-08 -r weekly_toggles
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    rerun = sub.add_parser(NAME, formatter_class=Formatter,
                           help="ask the next run to recompute dates", description=DOC)
    rerun.add_argument("query_folder", type=Path, metavar="QUERY_FOLDER")
    rerun.add_argument("start", type=moment, metavar="START", help="first date, YYYY-MM-DD")
    rerun.add_argument("end", type=moment, metavar="END",
                       help="end date (exclusive), YYYY-MM-DD")
    rerun.add_argument("-r", "--report", action="append", default=[], metavar="REPORT",
                       help="rerun only this report (repeatable; default: all)")
    rerun.add_argument("--now", type=moment, metavar="DATETIME", help=argparse.SUPPRESS)
    add_common(rerun)
    rerun.set_defaults(command_main=main)


def main(args: argparse.Namespace) -> int:
    config = read_config(args)
    check_report_names(config, args.report)
    validate_rerun(args.start, args.end, args.now or utcnow())
    reports = args.report or list(config.report_keys)
    path = write_request(args.query_folder, args.start, args.end, reports)
    print(f"Rerun requested: {path} ({args.start:%Y-%m-%d} to {args.end:%Y-%m-%d}, "
          f"{len(reports)} report(s)). The next run recomputes them.")
    return EXIT_OK
