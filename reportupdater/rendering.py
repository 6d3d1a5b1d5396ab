"""Render one interval: exactly what a run would execute, without executing it.

Input: a config, a report name, a moment and the report's explode values.
Output: the rendered SQL or HiveQL, or a script's argument vector on one
line, shell-quoted, so it can be pasted into a client or a shell. It renders
with the same functions as a run and connects nowhere.
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

from . import templates
from .config import Config, ReportConfig
from .errors import MissingExplodeValues, UsageError
from .intervals import Interval
from .planning import check_report_names

LISTED_VALUES = 50  # beyond this many, a list of possible values is cut short


def listed(values: Sequence[str], limit: int = LISTED_VALUES) -> str:
    """Values for a message, cut short after ``limit``."""
    shown = ", ".join(values[:limit])
    more = len(values) - limit
    return shown + (f" (and {more} more)" if more > 0 else "")


def usable_report(config: Config, name: str) -> ReportConfig:
    """The report called ``name``. Raises UsageError if unknown or invalid."""
    check_report_names(config, [name])
    report = config.report(name)
    if report is None:
        errors = "; ".join(str(p) for p in config.errors if p.report == name)
        raise UsageError(f"report {name!r} cannot be rendered because its config has "
                         f"errors: {errors}. Run 'reportupdater validate' for the list.")
    return report


def explode_values(report: ReportConfig, given: Mapping[str, str]) -> dict[str, str]:
    """``given`` checked against the report's explode_by, in the run's order.

    Raises UsageError for an unknown placeholder or value, and
    MissingExplodeValues when a placeholder has no value.
    """
    possible = dict(report.explode_by)
    for name, value in given.items():
        if name not in possible:
            known = (f"its placeholders are: {', '.join(report.placeholders)}"
                     if report.placeholders else "it does not explode")
            raise UsageError(f"report {report.key!r} has no explode placeholder {name!r}; "
                             f"{known}")
        if value not in possible[name]:
            raise UsageError(f"{value!r} is not a value of {name} for report "
                             f"{report.key!r}; the values are: {listed(possible[name])}")
    missing = {name: possible[name] for name in report.placeholders if name not in given}
    if missing:
        raise MissingExplodeValues(report.key, missing)
    return {name: given[name] for name in report.placeholders}


def rendered(report: ReportConfig, interval: Interval, explode: Mapping[str, str]) -> str:
    """What a run executes: the query text, or the script's argv shell-quoted."""
    if report.type == "script":
        import shlex

        return shlex.join(templates.script_argv(report, interval, explode)) + "\n"
    if report.type == "cohort":
        raise UsageError(f"report {report.key!r} is a cohort report: its SQL is built for "
                         "the cohort's users when it runs; try 'reportupdater metric'")
    text = templates.render(report, interval, explode)
    return text if text.endswith("\n") else text + "\n"


def render(config: Config, report: str, moment: dt.datetime,
           explode: Mapping[str, str] | None = None) -> str:
    """What a run would execute for ``report`` in the interval containing ``moment``.

    Raises UsageError (unknown report or explode value, a report with config
    errors), MissingExplodeValues, or TemplateError.
    """
    usable = usable_report(config, report)
    values = explode_values(usable, explode or {})
    return rendered(usable, Interval.containing(moment, usable.granularity), values)
