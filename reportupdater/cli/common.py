"""What every command shares: exit statuses, argument helpers, reading the config.

Only the CLI package imports this module.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from pathlib import Path

from .. import api
from ..config import Config
from ..intervals import parse_moment
from ..logs import LEVELS

log = logging.getLogger("reportupdater")

EXIT_OK = 0  # everything due succeeded
EXIT_FAILED = 1  # a report failed to read, execute or write
EXIT_USAGE = 2  # bad invocation or an unreadable config
EXIT_QUEUED = 3  # data written, but Graphite points wait in the outbox


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
