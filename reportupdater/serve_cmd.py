"""``serve``: run the read-only HTTP API and web page (thin glue over ``serve``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .cli import (EXIT_OK, PARSER_EXTENSIONS, _Formatter, _add_common, _moment, add_folders,
                  command, read_config)
from .errors import UsageError

log = logging.getLogger(__name__)

SERVE_DOC = """\
Serve the reports of QUERY_FOLDER, read from OUTPUT_FOLDER, over HTTP: a web
page at / listing every report with its freshness and charts, and a read-only
JSON/CSV API under /api/ (see docs/serving.md). Nothing is ever written. It
binds to 127.0.0.1 unless --host says otherwise.

Exit status: 0 stopped with Ctrl-C; 2 bad invocation or unreadable config.

Example:
  reportupdater serve queries output
  reportupdater serve queries output --port 8080 --cors https://grafana.example.org
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", formatter_class=_Formatter,
                           help="web page and JSON/CSV API over the timelines",
                           description=SERVE_DOC)
    add_folders(serve)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--cors", action="append", default=[], metavar="ORIGIN",
                       help="let pages from ORIGIN read the API (repeatable; default: none)")
    serve.add_argument("--now", type=_moment, metavar="DATETIME",
                       help="pretend it is this UTC time (default: the clock)")
    _add_common(serve)


PARSER_EXTENSIONS.append(add_parser)


@command("serve")
def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import create_app, run_server

    config = read_config(args)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if not args.output_folder.is_dir():
        log.warning("output folder %s does not exist: no report has been written yet",
                    args.output_folder)
    app = create_app(config, args.output_folder, now=args.now, cors_origins=args.cors)
    log.info("serving %d report(s) from %s on http://%s:%d/", len(config.report_keys),
             args.output_folder, args.host, args.port)
    run_server(app, args.host, args.port, "warning")
    return EXIT_OK
