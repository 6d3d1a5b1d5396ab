"""What every command shares: exit statuses, argument helpers, reading the config.

Only the CLI package imports this module.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from pathlib import Path

from typing import Sequence

from .. import api
from ..config import Config, ReportConfig
from ..errors import MissingExplodeValues, UsageError
from ..intervals import parse_moment
from ..logs import LEVELS
from ..rendering import explode_values, listed

log = logging.getLogger("reportupdater")

EXIT_OK = 0  # everything due succeeded
EXIT_FAILED = 1  # a report failed to read, execute or write
EXIT_USAGE = 2  # bad invocation or an unreadable config
EXIT_QUEUED = 3  # data written, but Graphite points wait in the outbox
EXIT_ALERT = 4  # run --fail-on-alert: an alert is firing after the run
EXIT_STUCK = 5  # another run has held the lock for longer than max_run_seconds


class Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=88)


def moment(text: str) -> dt.datetime:
    """An argparse type: a date, or a date and time."""
    try:
        return parse_moment(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_common(parser: argparse.ArgumentParser, config: bool = True) -> None:
    """--config-path and the logging options."""
    if config:
        parser.add_argument("--config-path", type=Path, metavar="PATH",
                            help="config file (default: QUERY_FOLDER/config.yaml, else "
                                 "./config.yaml)")
    parser.add_argument("-l", "--log-level", choices=LEVELS, default="info",
                        help="how much to log (default: info)")
    parser.add_argument("--log-file", metavar="PATH", help="log to this file, not stderr")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="text lines, or one JSON object per line (default: text)")


def add_folders(parser: argparse.ArgumentParser) -> None:
    """The optional positional QUERY_FOLDER and OUTPUT_FOLDER of run and status."""
    parser.add_argument("query_folder", nargs="?", type=Path, default=Path("queries"),
                        metavar="QUERY_FOLDER", help="folder of templates and config.yaml "
                        "(default: ./queries)")
    parser.add_argument("output_folder", nargs="?", type=Path, default=Path("output"),
                        metavar="OUTPUT_FOLDER", help="where timelines are written "
                        "(default: ./output)")


def add_query_folder(parser: argparse.ArgumentParser) -> None:
    """The optional positional QUERY_FOLDER of validate and render."""
    parser.add_argument("query_folder", nargs="?", type=Path, default=Path("queries"),
                        metavar="QUERY_FOLDER", help="folder of templates and config.yaml "
                        "(default: ./queries)")


def read_config(args: argparse.Namespace) -> Config:
    """Load and validate the config, logging every problem. Raises UsageError or
    ConfigError."""
    config = api.load_config(args.query_folder, args.config_path)
    for problem in config.problems:
        if problem.severity == "warning":
            log.warning("config: %s", problem)
        else:
            log.error("config: %s (report skipped)" if problem.report else "config: %s",
                      problem)
    return config


def explode_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``--explode NAME=VALUE`` pairs as a mapping. Raises UsageError."""
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--explode {pair!r} must be NAME=VALUE")
        if name in given and given[name] != value:
            raise UsageError(f"--explode {name} is given twice ({given[name]!r} and "
                             f"{value!r}); give it once")
        given[name] = value
    return given


def explode_arguments(report: ReportConfig, pairs: Sequence[str]) -> dict[str, str]:
    """The ``--explode`` pairs, checked against the report's explode_by, in the
    run's order. Raises UsageError."""
    try:
        return explode_values(report, explode_pairs(pairs))
    except MissingExplodeValues as e:
        needed = "; ".join(f"--explode {name}=VALUE, one of: {listed(values)}"
                           for name, values in e.missing.items())
        raise UsageError(f"report {e.report!r} explodes by {', '.join(e.missing)}; "
                         f"pass {needed}") from e
