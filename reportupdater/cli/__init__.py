"""The ``reportupdater`` command: the top layer, over the library (``reportupdater.api``).

It alone parses arguments, sets up logging, calls the library and turns its
named exceptions and results into messages and exit statuses. Each command
is a module of this package with ``add_parser(subparsers)``, which sets the
command's ``main(args) -> exit status``; ``common`` holds what they share. A
command's module is imported only when its parser is built, so the hourly run
does not load the other twelve and what they use. No library module imports
this package.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from .. import __version__
from ..errors import ConfigError, ReportUpdaterError, RerunError, UsageError
from ..logs import setup_logging
from .common import (EXIT_ALERT, EXIT_FAILED, EXIT_OK, EXIT_QUEUED, EXIT_STUCK, EXIT_USAGE,
                     Formatter, log)

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_QUEUED",
           "EXIT_ALERT", "EXIT_STUCK"]

# Command -> its module in this package, in the order ``reportupdater --help`` lists them.
COMMANDS = {"run": "run", "rerun": "rerun", "push": "push", "validate": "validate",
            "render": "render", "status": "status", "try": "try_", "test": "test",
            "fixtures": "fixtures", "serve": "serve", "dashboard": "dashboard",
            "metric": "metric", "alerts": "alerts"}
COMMAND_NAMES = tuple(COMMANDS)


def command_module(name: str):
    """The module of command ``name`` (imported now if it was not yet)."""
    return importlib.import_module(f"{__name__}.{COMMANDS[name]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` the one command that is being run (the
    hourly run need not build the other twelve)."""
    parser = argparse.ArgumentParser(
        prog="reportupdater", formatter_class=Formatter,
        description="Compute missing data points of reports into TSV timelines.",
        epilog="Run 'reportupdater COMMAND --help' for a command's options.\n"
               "'reportupdater QUERY_FOLDER OUTPUT_FOLDER' (the original form) means 'run'.")
    parser.add_argument("--version", action="version", version=f"reportupdater {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_NAMES:
        if only is None or name == only:
            command_module(name).add_parser(sub)
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    """The original's ``update_reports.py QUERY_FOLDER OUTPUT_FOLDER`` form means run."""
    if argv and not argv[0].startswith("-") and argv[0] not in COMMAND_NAMES:
        return ["run", *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    argv = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser(argv[0] if argv and argv[0] in COMMAND_NAMES else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return EXIT_USAGE if e.code not in (0, None) else EXIT_OK
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    setup_logging(args.log_level, args.log_file, args.log_format)
    try:
        return args.command_main(args)
    except (UsageError, ConfigError, RerunError) as e:
        log.error("%s", e)
        if args.log_file:  # the person at the terminal must still see why
            print(f"Error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ReportUpdaterError as e:
        log.error("%s", e)
        return EXIT_FAILED
    except KeyboardInterrupt:
        log.error("interrupted; every file written so far is complete")
        return 130
