"""``reportupdater validate``: list every problem of a query folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import api
from ..errors import ConfigError, UsageError
from .common import EXIT_FAILED, EXIT_OK, Formatter, add_common, add_query_folder

NAME = "validate"

DOC = """\
Check a query folder without connecting anywhere: the config's keys and
values, every template (does it parse, are its placeholders known, does it
render for the report's first interval), every explode file, every script's
executable bit, credential files and rerun requests. Lists every problem with
its file, line, report and key, and each pending rerun request as a note.
Warnings (a deprecated key, a credential file missing on this machine, a
rejected rerun request) do not fail validation.

Exit status: 0 no errors (warnings at most); 1 errors found, or the config
can't be read; 2 bad invocation.

Example:
  reportupdater validate queries
  reportupdater validate /srv/reportupdater/queries/editing --config-path editing.yaml
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    validate = sub.add_parser(NAME, formatter_class=Formatter,
                              help="list every problem of a query folder",
                              description=DOC)
    add_query_folder(validate)
    add_common(validate)
    validate.set_defaults(command_main=main)


def main(args: argparse.Namespace) -> int:
    if not Path(args.query_folder).is_dir():
        raise UsageError(f"query folder {str(args.query_folder)!r} does not exist or is not "
                         "a folder")
    try:
        config = api.load_config(args.query_folder, args.config_path)
    except ConfigError as e:
        print(f"error: {e}")
        print("1 error")
        return EXIT_FAILED
    problems = api.validate(config)
    for problem in problems:
        print(f"{problem.severity}: {problem}")
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = sum(1 for p in problems if p.severity == "warning")  # notes are not counted
    counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    usable = f"{len(config.reports)} of {_plural(len(config.report_keys), 'report')} usable"
    print(f"{counts} in {config.path} ({usable})" if errors or warnings
          else f"OK: {config.path} ({usable})")
    return EXIT_FAILED if errors else EXIT_OK


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
