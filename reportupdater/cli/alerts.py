"""``reportupdater alerts``: list the alerts firing, or send a test alert.

It calls ``reportupdater.alerts.sink`` and turns what it returns into lines
and exit statuses (``cli.run`` gives a run its alert sink).
"""

from __future__ import annotations

import argparse
import json
import logging

from ..planning import check_report_names
from ..summary import utcnow
from .common import (EXIT_FAILED, EXIT_OK, Formatter, add_common, add_folders, moment,
                     read_config)

NAME = "alerts"

log = logging.getLogger("reportupdater")

ALERTS_VERSION = 1

DOC = """\
List the alert incidents firing now (from OUTPUT_FOLDER/.reportupdater-alerts.json,
which each run keeps), and how many messages wait in the outbox. With --test
REPORT, send a sample alert about REPORT through every channel configured
under 'alerting' (email, webhook) at once, so that an operator can check the
set-up; the sample says it is a test and changes no incident.

Exit status: 0 listed (firing or not), or every test message went; 1 a test
message could not be delivered, or the alert state file can't be read; 2 bad
invocation or unreadable config.

Example:
  reportupdater alerts queries output
  reportupdater alerts queries output --json
  reportupdater alerts queries output --test toggles_by_editor
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    alerts = sub.add_parser(NAME, formatter_class=Formatter,
                            help="list firing alerts, or send a test alert",
                            description=DOC)
    add_folders(alerts)
    alerts.add_argument("--json", action="store_true",
                        help="print a JSON document instead of a table")
    alerts.add_argument("--test", metavar="REPORT",
                        help="send a sample alert about REPORT through every channel")
    alerts.add_argument("--now", type=moment, metavar="DATETIME",
                        help="pretend it is this UTC time (default: the clock)")
    add_common(alerts)
    alerts.set_defaults(command_main=main)



def main(args: argparse.Namespace) -> int:
    from ..alerts.sink import firing_incidents, send_test
    from ..alerts.store import AlertOutbox, StateError

    config = read_config(args)
    now = args.now or utcnow()
    if args.test is not None:
        check_report_names(config, [args.test])
        report = config.report(args.test)
        if report is None:
            print(f"report {args.test!r} has config errors; fix them first "
                  "(reportupdater validate)")
            return EXIT_FAILED
        if config.alerting is None or not config.alerting.channels:
            print("no channel is configured under 'alerting' (email, webhook): the test "
                  "alert went to the log only")
        outcomes = send_test(config, args.output_folder, report, now)
        for channel, error in outcomes:
            print(f"{channel}: {'sent' if error is None else 'FAILED: ' + error}")
        return EXIT_FAILED if any(error for _, error in outcomes) else EXIT_OK
    try:
        incidents = firing_incidents(args.output_folder)
    except StateError as e:
        log.error("%s", e)
        return EXIT_FAILED
    queued = AlertOutbox(args.output_folder).count()
    if args.json:
        print(json.dumps({"version": ALERTS_VERSION, "firing": incidents, "queued": queued},
                         indent=2, ensure_ascii=False))
        return EXIT_OK
    print(format_incidents(incidents))
    if queued:
        print(f"\n{queued} message(s) wait in {AlertOutbox(args.output_folder).path} for "
              "the next run to deliver")
    return EXIT_OK


def format_incidents(incidents: list[dict]) -> str:
    if not incidents:
        return "No alert is firing."
    rows = [["REPORT", "SERIES", "RULE", "SINCE", "VALUE", "WHY"]]
    for i in incidents:
        rows.append([i.get("report", "?"), i.get("series_name", "?"), i.get("rule", "?"),
                     i.get("fired_at", "?"), str(i.get("last_value") or i.get("value") or "-"),
                     i.get("detail", "")])
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(row, widths)), row[-1]]).rstrip()
                     for row in rows)
