"""``validate``: every problem of a query folder, without connecting anywhere.

Input: a query folder and its config. Output: the problems, one a line, each
with its file, YAML line, report and key, and exit status 0 (warnings at
most) or 1 (errors). ``load_config`` already checks the config keys, parses
every template and checks its placeholders, reads every explode file and
checks the scripts' executable bits; this stage adds what needs more than
the config: a trial render of each query for its first interval (a format
spec or a Jinja filter that only fails when rendered), credential files that
are not there, and the rerun requests in ``.reruns/``: pending (a note),
rejected, or ones a run would ignore or only partly follow (warnings).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

from . import templates
from .cli import (EXIT_FAILED, EXIT_OK, PARSER_EXTENSIONS, _Formatter, _add_common,
                  command)
from .config import Config, Problem, _yaml_lines, load_config
from .errors import ConfigError, TemplateError, UsageError
from .intervals import Interval
from .reruns import check_requests


def _line(lines: dict[tuple[str, ...], int], *path: str) -> int | None:
    """The YAML line of the deepest key of ``path`` that exists."""
    for depth in range(len(path), 0, -1):
        if path[:depth] in lines:
            return lines[path[:depth]]
    return None


def render_problems(config: Config, lines: dict[tuple[str, ...], int]) -> list[Problem]:
    """Render each query for its first interval and explode combination."""
    problems = []
    for report in config.reports:
        if report.type in ("script", "cohort"):
            continue  # argv always builds; a cohort report's SQL is built in
        explode = next(report.explode_combinations())
        interval = Interval.containing(report.starts, report.granularity)
        try:
            templates.render(report, interval, explode)
        except TemplateError as e:
            problems.append(Problem(
                str(config.path), f"trial render of interval {interval} failed: {e}",
                report.key, "execute",
                _line(lines, "reports", report.key, "execute")
                or _line(lines, "reports", report.key)))
    return problems


def credential_problems(config: Config, lines: dict[tuple[str, ...], int]) -> list[Problem]:
    """Credential files this machine cannot read: a warning, as the config may be
    validated away from the machine that runs it."""
    problems = []
    for database in config.databases.values():
        creds = database.creds_file
        if creds and not os.access(os.path.expanduser(creds), os.R_OK):
            problems.append(Problem(
                str(config.path), f"creds_file {creds!r} cannot be read here; a run on "
                "this machine could not connect", None,
                f"databases.{database.key}.creds_file",
                _line(lines, "databases", database.key, "creds_file"), "warning"))
    return problems


def rerun_problems(config: Config, now: dt.datetime | None = None) -> list[Problem]:
    """Rerun requests: pending, rejected, or ignored or only partly followed by runs."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return [Problem(str(path), message, severity=severity)
            for path, severity, message in check_requests(config.query_folder,
                                                          config.report_keys, now)]


def ended_problems(config: Config, lines: dict[tuple[str, ...], int],
                   now: dt.datetime | None = None) -> list[Problem]:
    """Reports past their ``ends`` that still publish to Graphite or alert: a
    warning, since nothing new will come (time to clean up)."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    problems = []
    for report in config.reports:
        if report.ends is None or report.ends > now:
            continue
        still = [k for k, on in (("graphite", report.graphite), ("alerts", report.alerts)) if on]
        if still:
            problems.append(Problem(
                str(config.path), f"the report ended on {report.ends:%Y-%m-%d} but still has "
                f"{' and '.join(still)} configured; remove {'them' if len(still) > 1 else 'it'}"
                " (or the report) as its clean-up", report.key, "ends",
                _line(lines, "reports", report.key, "ends") or _line(lines, "defaults", "ends"),
                "warning"))
    return problems


def all_problems(config: Config) -> list[Problem]:
    try:
        lines = _yaml_lines(config.path.read_text(encoding="utf-8"))
    except OSError:
        lines = {}
    found = [*config.problems, *render_problems(config, lines),
             *credential_problems(config, lines), *rerun_problems(config),
             *ended_problems(config, lines)]
    # Top to bottom through each file, so the list reads like the config.
    return sorted(found, key=lambda p: (p.file != str(config.path), p.file, p.line or 0))


VALIDATE_DOC = """\
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
    validate = sub.add_parser("validate", formatter_class=_Formatter,
                              help="list every problem of a query folder",
                              description=VALIDATE_DOC)
    validate.add_argument("query_folder", nargs="?", type=Path, default=Path("queries"),
                          metavar="QUERY_FOLDER", help="folder of templates and "
                          "config.yaml (default: ./queries)")
    _add_common(validate)


PARSER_EXTENSIONS.append(add_parser)


@command("validate")
def cmd_validate(args: argparse.Namespace) -> int:
    if not args.query_folder.is_dir():
        raise UsageError(f"query folder {str(args.query_folder)!r} does not exist or is not "
                         "a folder")
    try:
        config = load_config(args.query_folder, args.config_path)
    except ConfigError as e:
        print(f"error: {e}")
        print("1 error")
        return EXIT_FAILED
    problems = all_problems(config)
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
