"""Validate a query folder: every problem it has, without connecting anywhere.

Input: a loaded config. Output: its problems, each with its file, YAML
line, report and key, in the order they appear in the files.
``load_config`` already checks the config keys, parses every template and
checks its placeholders, reads every explode file and checks the scripts'
executable bits; this stage adds what needs more than the config: a trial
render of each query for its first interval (a format spec or a Jinja filter
that only fails when rendered), credential files that are not there, the
rerun requests in ``.reruns/``: pending (a note), rejected, or ones a run
would ignore or only partly follow (warnings), and reports past their
``ends`` that still publish or alert (warnings).
"""

from __future__ import annotations

import datetime as dt
import os

from . import templates
from .config import Config, Problem, _yaml_lines
from .errors import TemplateError
from .intervals import Interval
from .reruns import check_requests
from .summary import utcnow


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
    now = now or utcnow()
    return [Problem(str(path), message, severity=severity)
            for path, severity, message in check_requests(config.query_folder,
                                                          config.report_keys, now)]


def ended_problems(config: Config, lines: dict[tuple[str, ...], int],
                   now: dt.datetime | None = None) -> list[Problem]:
    """Reports past their ``ends`` that still publish to Graphite or alert: a
    warning, since nothing new will come (time to clean up)."""
    now = now or utcnow()
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


def validate(config: Config, now: dt.datetime | None = None) -> list[Problem]:
    """Every problem: the config's own, trial renders, credentials, rerun requests
    (as they stand at ``now``, by default the clock)."""
    try:
        lines = _yaml_lines(config.path.read_text(encoding="utf-8"))
    except OSError:
        lines = {}
    found = [*config.problems, *render_problems(config, lines),
             *credential_problems(config, lines), *rerun_problems(config, now),
             *ended_problems(config, lines, now)]
    # Top to bottom through each file, so the list reads like the config.
    return sorted(found, key=lambda p: (p.file != str(config.path), p.file, p.line or 0))
