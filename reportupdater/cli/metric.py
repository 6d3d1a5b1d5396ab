"""``reportupdater metric``: measure one cohort metric now and print a TSV.

It calls ``reportupdater.cohorts.measure`` and prints the aggregates (one
row) or, with ``--per-user``, one row per member. Names no user has are
listed on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..cohorts.metrics import METRICS, metric_params
from ..errors import MetricParameterError, UsageError
from ..intervals import parse_moment
from ..results import format_value
from .common import EXIT_OK, Formatter, add_common, read_config

NAME = "metric"

log = logging.getLogger("reportupdater")

DOC = """\
Measure METRIC for every member of a cohort defined under 'cohorts:' in the
config, with one query per wiki, and print a TSV: the aggregates, or with
--per-user the columns user_id, user_name, wiki, the value column(s) and a
reason where the value is null.

Without --start/--end, each user is measured from their registration for
--t hours (the registration window); with them, over [START, END). A cohort
that is a query gets the interval placeholders of --cohort-start and
--cohort-end (default: --start and --end).

Exit status: 0 printed; 1 a query failed; 2 bad arguments or config.

Example:
  reportupdater metric queries threshold --cohort new_editors --t 24 --n 1
  reportupdater metric queries edit_count --cohort editathon --start 2026-10-01 \\
      --end 2026-11-01 --namespaces 0,1 --per-user
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(NAME, formatter_class=Formatter,
                            help="measure a cohort metric and print a TSV",
                            description=DOC)
    parser.add_argument("query_folder", nargs="?", type=Path, default=Path("queries"),
                        metavar="QUERY_FOLDER",
                        help="folder of config.yaml and cohorts (default: ./queries)")
    parser.add_argument("metric", metavar="METRIC", help=f"one of {', '.join(METRICS)}")
    parser.add_argument("--cohort", required=True, metavar="NAME",
                        help="a cohort under 'cohorts:' in the config")
    parser.add_argument("--wiki", metavar="WIKI",
                        help="the wiki of cohort lines that name none (default: the "
                             "cohort's database)")
    parser.add_argument("--start", metavar="DATE", help="input window start (YYYY-MM-DD)")
    parser.add_argument("--end", metavar="DATE", help="input window end, exclusive")
    parser.add_argument("--t", type=int, metavar="N",
                        help="hours after registration (minutes for live_account)")
    parser.add_argument("--n", type=int, metavar="N", help="threshold: revisions needed")
    parser.add_argument("--a", type=int, metavar="N", help="time_to_threshold: from the a-th")
    parser.add_argument("--b", type=int, metavar="N", help="time_to_threshold: to the b-th")
    parser.add_argument("--k", type=int, metavar="N", help="revert_rate: revisions looked at")
    parser.add_argument("--namespaces", metavar="LIST",
                        help="comma-separated namespace numbers, or all (default: 0)")
    parser.add_argument("--include-deleted", action="store_true",
                        help="count deleted revisions (archive) too")
    parser.add_argument("--per-user", action="store_true", help="one row per member")
    parser.add_argument("--cohort-start", metavar="DATE",
                        help="interval start for a query cohort (default: --start)")
    parser.add_argument("--cohort-end", metavar="DATE",
                        help="interval end for a query cohort (default: --end)")
    add_common(parser)
    parser.set_defaults(command_main=main)



def _span(start: str | None, end: str | None) -> "Span | None":
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise UsageError("--cohort-start and --cohort-end go together")
    try:
        from ..cohorts.measure import Span

        return Span(parse_moment(start), parse_moment(end))
    except ValueError as e:
        raise UsageError(f"cohort interval: {e}") from e


def main(args: argparse.Namespace) -> int:
    config = read_config(args)
    if args.cohort not in config.cohorts:
        raise UsageError(f"unknown cohort {args.cohort!r}; the config {config.path} has: "
                         f"{', '.join(config.cohorts) or 'none'}")
    raw = {"start": args.start, "end": args.end, "t": args.t, "n": args.n, "a": args.a,
           "b": args.b, "k": args.k, "namespaces": args.namespaces,
           "include_deleted": True if args.include_deleted else None}
    try:
        params = metric_params(args.metric, raw)
    except MetricParameterError as e:
        option = "--" + e.parameter.replace("_", "-")
        raise UsageError(f"{option}: {e}" if e.parameter != "metric" else str(e)) from e
    span = _span(args.cohort_start or args.start, args.cohort_end or args.end)
    from ..cohorts.measure import measure

    result = measure(config, args.cohort, args.metric, params, span=span, wiki=args.wiki)
    out = sys.stdout
    if args.per_user:
        columns = METRICS[args.metric].columns
        out.write("\t".join(("user_id", "user_name", "wiki", *columns, "reason")) + "\n")
        for user in result.users:
            if len(columns) > 1:
                values = [(user.value or {}).get(c) for c in columns]
            else:
                values = [user.value]
            fields = [user.user_id, user.user_name, user.wiki, *values, user.reason]
            out.write("\t".join(_field(v) for v in fields) + "\n")
    else:
        out.write("\t".join(result.aggregates) + "\n")
        out.write("\t".join(_field(v) for v in result.aggregates.values()) + "\n")
    if result.unknown:
        log.warning("%d unknown user(s) in cohort %r: %s", len(result.unknown), args.cohort,
                    ", ".join(f"{name} ({wiki})" for wiki, name in result.unknown))
    return EXIT_OK


def _field(value: object) -> str:
    text = format_value(value)
    return text.replace("\t", " ").replace("\n", " ")
