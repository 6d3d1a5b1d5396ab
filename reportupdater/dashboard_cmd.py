"""``dashboard``: print a Grafana dashboard for the reports' Graphite metrics
(thin glue over ``reportupdater.dashboard``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import EXIT_OK, PARSER_EXTENSIONS, _Formatter, _add_common, command, read_config

DASHBOARD_DOC = """\
Print a Grafana dashboard (JSON, for Dashboards > New > Import) built from the
reports' graphite sections: a text panel with each report's description, owner
and ticket; one time-series panel per metric, lines unstacked; and a variable
per placeholder of the Graphite paths (wiki, editor...), filled by a Graphite
find query. Reports without a graphite section are left out.

Exit status: 0 printed; 2 bad invocation, unreadable config, or no report
with a graphite section.

Example:
  reportupdater dashboard queries > dashboard.json
  reportupdater dashboard queries -r toggles_by_editor --datasource my-graphite-uid
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("dashboard", formatter_class=_Formatter,
                            help="print a Grafana dashboard of the Graphite metrics",
                            description=DASHBOARD_DOC)
    parser.add_argument("query_folder", nargs="?", type=Path, default=Path("queries"),
                        metavar="QUERY_FOLDER", help="folder of templates and config.yaml "
                        "(default: ./queries)")
    parser.add_argument("-r", "--report", action="append", default=[], metavar="REPORT",
                        help="include only this report (repeatable; default: every report "
                             "with a graphite section)")
    parser.add_argument("--datasource", default="graphite", metavar="UID",
                        help="uid of the Grafana Graphite data source (default: graphite)")
    parser.add_argument("--title", metavar="TITLE",
                        help="dashboard title (default: 'reportupdater: FOLDER NAME')")
    _add_common(parser)


PARSER_EXTENSIONS.append(add_parser)


@command("dashboard")
def cmd_dashboard(args: argparse.Namespace) -> int:
    from .dashboard import build_dashboard, dashboard_json, graphite_reports

    config = read_config(args)
    reports = graphite_reports(config, args.report)
    model = build_dashboard(config, reports, datasource=args.datasource, title=args.title)
    sys.stdout.write(dashboard_json(model))
    return EXIT_OK
