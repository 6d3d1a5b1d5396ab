"""``reportupdater fixtures``: scaffold fixture files for the tables a report
reads. The work is ``reportupdater.localrun.scaffold``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import templates
from ..errors import UsageError
from ..intervals import Interval
from ..rendering import usable_report
from .common import (EXIT_OK, Formatter, add_common, add_query_folder, explode_arguments,
                     moment, read_config)

NAME = "fixtures"

DOC = """\
List every table and column the rendered query of REPORT reads (struct
fields as event.editor), found with sqlglot, and write one fixture file per
table into DIR (DIR/<schema>/<table>.jsonl) with one example row that has
every column, nested fields in nested objects. Existing files are never
overwritten. The query is rendered for --date (default: the report's start)
and the --explode values (default: the first value of each placeholder).

Exit status: 0 listed and written; 1 the query cannot be rendered or parsed;
2 bad invocation, unknown report, or a script report.

Example:
  reportupdater fixtures queries edits --out queries/tests/fixtures
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(NAME, formatter_class=Formatter,
                            help="scaffold fixture files for a report's tables",
                            description=DOC)
    add_query_folder(parser)
    parser.add_argument("report", metavar="REPORT", help="the report whose tables to scaffold")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="the fixture folder to write into")
    parser.add_argument("--date", type=moment, metavar="YYYY-MM-DD",
                        help="render for the interval containing this date")
    parser.add_argument("--explode", action="append", default=[], metavar="NAME=VALUE",
                        help="the value of an explode placeholder (repeatable)")
    add_common(parser)
    parser.set_defaults(command_main=main)



def main(args: argparse.Namespace) -> int:
    from ..localrun.engine import current_database, dialect_of  # not on every command's path
    from ..localrun.scaffold import tables_read, write_fixtures

    config = read_config(args)
    report = usable_report(config, args.report)
    if report.type == "cohort":
        raise UsageError(f"report {report.key!r} is a cohort report: its queries read the "
                         "MediaWiki tables of a real wiki, not fixtures")
    if report.type == "script":
        raise UsageError(f"report {report.key!r} is a script: its tables can't be read "
                         "from a query; it gets the fixture folder in "
                         "REPORTUPDATER_FIXTURES")
    given = {pair.partition("=")[0] for pair in args.explode}
    defaults = [f"{name}={values[0]}" for name, values in report.explode_by
                if name not in given]
    explode = explode_arguments(report, [*args.explode, *defaults])
    interval = Interval.containing(args.date or report.starts, report.granularity)
    text = templates.render(report, interval, explode)
    dialect = dialect_of(config, report)
    tables = tables_read(text, dialect)
    if not tables:
        print(f"report {report.key!r} reads no table (table functions such as read_csv "
              "are not fixtures)")
        return EXIT_OK
    database = current_database(config, report, explode)
    for table, path, written in write_fixtures(args.out, tables, database, interval):
        print(f"{table.ref}: {', '.join(table.columns) or '(no column named)'}")
        print(f"    {'wrote' if written else 'exists, left as is:'} {path}")
    return EXIT_OK
