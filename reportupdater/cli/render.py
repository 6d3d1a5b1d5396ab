"""``reportupdater render``: print the query or command of one interval."""

from __future__ import annotations

import argparse
import logging
import sys

from .. import api
from ..intervals import Interval
from ..rendering import usable_report
from .common import (EXIT_OK, Formatter, add_common, add_query_folder, explode_arguments,
                     moment, read_config)

NAME = "render"

log = logging.getLogger("reportupdater")

DOC = """\
Print exactly what a run would execute for REPORT in the interval that
contains --date: the rendered SQL or HiveQL, or for a script its argument
vector on one line, shell-quoted. A report that explodes needs one --explode
per placeholder. Nothing is executed and nothing connects.

Exit status: 0 printed; 1 the template fails to render; 2 unknown report,
bad date, or a missing, unknown or unlisted --explode value.

Example:
  reportupdater render queries toggles_by_editor --date 2026-10-05 --explode wiki=enwiki
  reportupdater render queries monthly_summary --date 2026-10-05 | sh
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    render = sub.add_parser(NAME, formatter_class=Formatter,
                            help="print the query or command of one interval",
                            description=DOC)
    add_query_folder(render)
    render.add_argument("report", metavar="REPORT", help="the report to render")
    render.add_argument("--date", type=moment, required=True, metavar="YYYY-MM-DD",
                        help="a date (or date and time) inside the interval to render")
    render.add_argument("--explode", action="append", default=[], metavar="NAME=VALUE",
                        help="the value of an explode placeholder (repeatable)")
    add_common(render)
    render.set_defaults(command_main=main)


def main(args: argparse.Namespace) -> int:
    config = read_config(args)
    report = usable_report(config, args.report)
    explode = explode_arguments(report, args.explode)
    text = api.render(config, args.report, args.date, explode)
    interval = Interval.containing(args.date, report.granularity)
    if interval.start < report.granularity.truncate(report.starts):
        log.warning("interval %s is before the report starts (%s); no run executes it",
                    interval, f"{report.starts:%Y-%m-%d}")
    log.info("%s, interval %s%s", report.key, interval,
             "".join(f", {name}={explode[name]}" for name in report.placeholders))
    sys.stdout.write(text)
    return EXIT_OK
