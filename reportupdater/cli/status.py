"""``reportupdater status``: how far each report is, and its last failure."""

from __future__ import annotations

import argparse
import json
import logging
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .. import api
from ..summary import utcnow
from .common import (EXIT_FAILED, EXIT_OK, Formatter, add_common, add_folders, moment,
                     read_config)

if TYPE_CHECKING:
    from ..statuses import ReportStatus

NAME = "status"

log = logging.getLogger("reportupdater")

DOC = """\
Show, for each report: its type and granularity; for how many explode
combinations a file exists; the first and last date present; the intervals
done and expected now; how many are missing and the oldest missing one; the
last failure a run recorded (in OUTPUT_FOLDER/.reportupdater-state.json); its
end date ("ended" once passed) and owner; the alerts firing; and the run in
progress, if one holds the query folder's lock, and since when.
It reads files only. --format json prints a stable document for monitoring
(see docs/operator.md for its schema).

Exit status: 0 no report has a recorded failure or an error; 1 some report
has (its last run failed, its config has errors, or a file can't be read), or
the run in progress has taken longer than max_run_seconds; 2 bad invocation or
unreadable config.

Example:
  reportupdater status queries output
  reportupdater status queries output --format json --now 2026-11-01
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser(NAME, formatter_class=Formatter,
                            help="how far each report is, and its last failure",
                            description=DOC)
    add_folders(status)
    status.add_argument("--format", choices=("table", "json"), default="table",
                        help="a table for people, or JSON for monitoring (default: table)")
    status.add_argument("--now", type=moment, metavar="DATETIME",
                        help="pretend it is this UTC time (default: the clock)")
    add_common(status)
    status.set_defaults(command_main=main)


def main(args: argparse.Namespace) -> int:
    config = read_config(args)
    now = args.now or utcnow()
    if not args.output_folder.is_dir():
        log.warning("output folder %s does not exist: no report has been written yet",
                    args.output_folder)
    statuses = api.status(config, args.output_folder, now=now)
    holder = statuses.run_in_progress
    if args.format == "json":
        from ..statuses import status_document

        document = status_document(
            config, args.query_folder, args.output_folder, now, statuses,
            statuses.state_error,
            holder.as_json(config.max_run_seconds, statuses.checked_at) if holder else None)
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(format_table(statuses, statuses.state_error))
        if holder is not None:
            print(f"\n{holder.status_line(config.max_run_seconds, statuses.checked_at)}")
    return EXIT_FAILED if statuses.failing else EXIT_OK


def format_table(statuses: Sequence[ReportStatus], state_problem: str | None = None) -> str:
    header = ["REPORT", "TYPE", "GRANULARITY", "FILES", "FIRST", "LAST", "DONE/EXPECTED",
              "MISSING", "OLDEST MISSING", "LAST FAILURE", "ENDS", "OWNER"]
    rows = [header]
    for s in statuses:
        failure = s.last_failure
        rows.append([
            s.report, s.type or "?", s.granularity or "?",
            f"{s.explode_with_files}/{s.explode_total}" if s.type else "-",
            s.first_date or "-", s.last_date or "-",
            f"{s.done}/{s.expected}" if s.type else "-",
            str(s.missing) if s.type else "-",
            s.oldest_missing.label if s.oldest_missing else "-",
            str(failure.get("at", "?")) if failure else "-",
            (f"{s.ends} (ended)" if s.ended else s.ends) if s.ends else "-",
            (s.owner[0] + (f" +{len(s.owner) - 1}" if len(s.owner) > 1 else ""))
            if s.owner else "-",
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in rows]
    problems = [f"  {s.report}: {error}" for s in statuses for error in s.errors]
    if state_problem:
        problems.append(f"  {state_problem}")
    if problems:
        lines += ["", "Problems:", *problems]
    alerts = [(s.report, a) for s in statuses for a in s.alerts_firing]
    if alerts:
        lines += ["", "Firing alerts:"]
        for report, a in alerts:
            lines.append(f"  {report} ({a['series']}) rule {a['rule']!r} since {a['since']}: "
                         f"{a['detail']}")
    failed = [s for s in statuses if s.last_failure]
    if failed:
        lines += ["", "Last failures:"]
        for s in failed:
            lines.append(f"  {s.report}: {describe_failure(s.last_failure)}")
    return "\n".join(lines)


def describe_failure(entry: Mapping[str, Any]) -> str:
    where = []
    interval = entry.get("interval")
    if isinstance(interval, dict):
        where.append(f"interval {interval.get('start')}..{interval.get('end')}")
    else:
        where.append("the whole timeline")
    explode = entry.get("explode") or {}
    if explode:
        where.append(" ".join(f"{k}={v}" for k, v in explode.items()))
    count = entry.get("count", 1)
    more = f" ({count} failures in that run)" if isinstance(count, int) and count > 1 else ""
    return f"{entry.get('at', '?')} {', '.join(where)}: {entry.get('error', '?')}{more}"

