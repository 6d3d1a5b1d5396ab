"""``render``: print exactly what a run would execute for one interval.

Input: a report, a date and one value per explode placeholder. Output on
stdout: the rendered SQL or HiveQL, or a script's argument vector on one line,
shell-quoted, so it can be pasted into a client or a shell. It renders with
the same functions as a run and connects nowhere.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Sequence

from . import templates
from .cli import (EXIT_OK, PARSER_EXTENSIONS, _Formatter, _add_common, _moment,
                  check_report_names, command, read_config)
from .config import Config, ReportConfig
from .errors import UsageError
from .intervals import Interval

log = logging.getLogger(__name__)

LISTED_VALUES = 50  # beyond this many, a list of possible values is cut short


def _values(values: Sequence[str]) -> str:
    shown = ", ".join(values[:LISTED_VALUES])
    more = len(values) - LISTED_VALUES
    return shown + (f" (and {more} more)" if more > 0 else "")


def usable_report(config: Config, name: str) -> ReportConfig:
    """The report called ``name``. Raises UsageError if unknown or invalid."""
    check_report_names(config, [name])
    report = config.report(name)
    if report is None:
        errors = "; ".join(str(p) for p in config.errors if p.report == name)
        raise UsageError(f"report {name!r} cannot be rendered because its config has "
                         f"errors: {errors}. Run 'reportupdater validate' for the list.")
    return report


def explode_values(report: ReportConfig, pairs: Sequence[str]) -> dict[str, str]:
    """Parse ``NAME=VALUE`` pairs against the report's explode_by. Raises UsageError."""
    possible = dict(report.explode_by)
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--explode {pair!r} must be NAME=VALUE")
        if name not in possible:
            known = (f"its placeholders are: {', '.join(report.placeholders)}"
                     if report.placeholders else "it does not explode")
            raise UsageError(f"report {report.key!r} has no explode placeholder {name!r}; "
                             f"{known}")
        if name in given and given[name] != value:
            raise UsageError(f"--explode {name} is given twice ({given[name]!r} and "
                             f"{value!r}); give it once")
        if value not in possible[name]:
            raise UsageError(f"{value!r} is not a value of {name} for report "
                             f"{report.key!r}; the values are: {_values(possible[name])}")
        given[name] = value
    missing = [name for name in report.placeholders if name not in given]
    if missing:
        needed = "; ".join(f"--explode {name}=VALUE, one of: {_values(possible[name])}"
                           for name in missing)
        raise UsageError(f"report {report.key!r} explodes by {', '.join(missing)}; "
                         f"pass {needed}")
    return {name: given[name] for name in report.placeholders}  # the run's order


def rendered(report: ReportConfig, interval: Interval, explode: dict[str, str]) -> str:
    """What a run executes: the query text, or the script's argv shell-quoted."""
    if report.type == "script":
        return shlex.join(templates.script_argv(report, interval, explode)) + "\n"
    if report.type == "cohort":
        raise UsageError(f"report {report.key!r} is a cohort report: its SQL is built for "
                         "the cohort's users when it runs; try 'reportupdater metric'")
    text = templates.render(report, interval, explode)
    return text if text.endswith("\n") else text + "\n"


RENDER_DOC = """\
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
    render = sub.add_parser("render", formatter_class=_Formatter,
                            help="print the query or command of one interval",
                            description=RENDER_DOC)
    render.add_argument("query_folder", nargs="?", type=Path, default=Path("queries"),
                        metavar="QUERY_FOLDER", help="folder of templates and config.yaml "
                        "(default: ./queries)")
    render.add_argument("report", metavar="REPORT", help="the report to render")
    render.add_argument("--date", type=_moment, required=True, metavar="YYYY-MM-DD",
                        help="a date (or date and time) inside the interval to render")
    render.add_argument("--explode", action="append", default=[], metavar="NAME=VALUE",
                        help="the value of an explode placeholder (repeatable)")
    _add_common(render)


PARSER_EXTENSIONS.append(add_parser)


@command("render")
def cmd_render(args: argparse.Namespace) -> int:
    config = read_config(args)
    report = usable_report(config, args.report)
    explode = explode_values(report, args.explode)
    interval = Interval.containing(args.date, report.granularity)
    text = rendered(report, interval, explode)
    if interval.start < report.granularity.truncate(report.starts):
        log.warning("interval %s is before the report starts (%s); no run executes it",
                    interval, f"{report.starts:%Y-%m-%d}")
    log.info("%s, interval %s%s", report.key, interval,
             "".join(f", {k}={v}" for k, v in explode.items()))
    sys.stdout.write(text)
    return EXIT_OK
