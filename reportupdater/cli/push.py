"""``reportupdater push``: re-send history from the TSVs to Graphite."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .. import api
from ..errors import UsageError
from ..planning import check_report_names
from .common import (EXIT_FAILED, EXIT_OK, EXIT_QUEUED, Formatter, add_common, moment,
                     read_config)

NAME = "push"

log = logging.getLogger("reportupdater")

DOC = """\
Re-send points to Graphite from the TSV timelines in OUTPUT_FOLDER, without
running any query: after adding a graphite section to an old report, or when
a Graphite server was rebuilt. The outbox is delivered first. --since and
--until select rows by the start of their interval, [SINCE, UNTIL).

Exit status: 0 every point delivered; 1 a timeline could not be read or a
graphite path does not fit the data; 2 bad invocation or config; 3 points
wait in the outbox.

Example:
  reportupdater push queries output -r toggles_by_editor --since 2026-08-01
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    push = sub.add_parser(
        NAME, formatter_class=Formatter, help="re-send history from the TSVs to "
        "Graphite", description=DOC)
    push.add_argument("query_folder", nargs="?", type=Path, default=Path("queries"),
                      metavar="QUERY_FOLDER", help="folder of config.yaml (default: ./queries)")
    push.add_argument("output_folder", nargs="?", type=Path, default=Path("output"),
                      metavar="OUTPUT_FOLDER", help="where the timelines are (default: ./output)")
    push.add_argument("-r", "--report", action="append", default=[], metavar="REPORT",
                      help="push only this report (repeatable; default: every report with "
                           "a graphite section)")
    push.add_argument("--since", type=moment, metavar="DATE",
                      help="first interval start to send, inclusive (default: none)")
    push.add_argument("--until", type=moment, metavar="DATE",
                      help="interval start to stop before, exclusive (default: none)")
    add_common(push)
    push.set_defaults(command_main=main)


def main(args: argparse.Namespace) -> int:
    config = read_config(args)
    check_report_names(config, args.report)
    if config.graphite is not None and args.since and args.until \
            and args.since >= args.until:
        raise UsageError(f"--since {args.since:%Y-%m-%d %H:%M:%S} must be before --until "
                         f"{args.until:%Y-%m-%d %H:%M:%S}")
    result = api.push(config, args.output_folder, reports=args.report, since=args.since,
                      until=args.until)
    log.info("push: %d point(s) from %d file(s); %d delivered, %d waiting in the outbox",
             result.points, result.files, result.delivery.sent, result.delivery.queued)
    if result.delivery.queued:
        log.warning("push: %d point(s) wait in the outbox %s", result.delivery.queued,
                    Path(args.output_folder) / outbox_dir())
    if result.errors or result.delivery.lost or config.errors:
        return EXIT_FAILED
    if result.delivery.queued:
        return EXIT_QUEUED
    return EXIT_OK


def outbox_dir() -> str:
    from ..publish.outbox import OUTBOX_DIR

    return OUTBOX_DIR
