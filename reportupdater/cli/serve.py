"""``reportupdater serve``: the read-only HTTP API and web page (over
``reportupdater.serve``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import CohortError, UsageError
from .common import EXIT_OK, Formatter, add_common, add_folders, moment, read_config

NAME = "serve"

log = logging.getLogger("reportupdater")

DOC = """\
Serve the reports of QUERY_FOLDER, read from OUTPUT_FOLDER, over HTTP: a web
page at / listing every report with its freshness and charts, and a read-only
JSON/CSV API under /api/ (see docs/serving.md), with the cohort metrics API
under /api/cohorts (see docs/cohorts.md). Nothing is ever written, except
uploaded cohorts with --allow-upload, kept in their own folder. It binds to
127.0.0.1 unless --host says otherwise.

Exit status: 0 stopped with Ctrl-C; 2 bad invocation or unreadable config.

Example:
  reportupdater serve queries output
  reportupdater serve queries output --port 8080 --cors https://grafana.example.org
  reportupdater serve queries output --allow-upload --cohorts-folder /srv/cohorts
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(NAME, formatter_class=Formatter,
                           help="web page and JSON/CSV API over the timelines",
                           description=DOC)
    add_folders(serve)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--cors", action="append", default=[], metavar="ORIGIN",
                       help="let pages from ORIGIN read the API (repeatable; default: none)")
    serve.add_argument("--now", type=moment, metavar="DATETIME",
                       help="pretend it is this UTC time (default: the clock)")
    serve.add_argument("--allow-upload", action="store_true",
                       help="accept cohorts uploaded with POST /api/cohorts (default: off)")
    serve.add_argument("--cohorts-folder", type=Path, metavar="FOLDER",
                       help="where uploaded cohorts are kept (default: OUTPUT_FOLDER-cohorts, "
                            "beside the output folder; never inside it)")
    serve.add_argument("--sync-seconds", type=float, default=2.0, metavar="SECONDS",
                       help="a cohort metric taking longer is answered 202 with a job URL "
                            "(default: 2)")
    add_common(serve)
    serve.set_defaults(command_main=main)


def main(args: argparse.Namespace) -> int:
    # starlette and uvicorn are imported only to serve
    from ..serve import create_app, run_server
    from ..serve.cohorts import CohortService, cohort_routes, cohorts_folder_for

    config = read_config(args)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if args.sync_seconds < 0:
        raise UsageError(f"--sync-seconds must be 0 or more, not {args.sync_seconds:g}")
    try:
        folder = cohorts_folder_for(args.output_folder, args.cohorts_folder)
    except CohortError as e:
        raise UsageError(f"--cohorts-folder: {e}") from e
    cohorts = CohortService(config, folder, allow_upload=args.allow_upload,
                            sync_seconds=args.sync_seconds)
    if not args.output_folder.is_dir():
        log.warning("output folder %s does not exist: no report has been written yet",
                    args.output_folder)
    app = create_app(config, args.output_folder, now=args.now, cors_origins=args.cors,
                     extra_routes=cohort_routes(cohorts))
    log.info("serving %d report(s) from %s on http://%s:%d/", len(config.report_keys),
             args.output_folder, args.host, args.port)
    run_server(app, args.host, args.port, "warning")
    return EXIT_OK
