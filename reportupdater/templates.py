"""Render a report's query for one interval and one explode combination.

Input: a ``ReportConfig``, an ``Interval`` and the explode values. Output:
the text to execute (SQL or HiveQL), or for a script its argument vector.
Legacy ``.sql``/``.hql`` templates use ``str.format`` exactly as the original
reportupdater did; ``.j2`` templates use Jinja2 with undefined variables made
errors. The config loader parses templates with ``template_variables``, so this
module knows reports only by the two attributes it reads (``key``, ``template``)
and never imports the config.
"""

from __future__ import annotations

import enum
import functools
import string
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Protocol

from .errors import TemplateError
from .intervals import Interval

TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
DATE_FORMAT = "%Y-%m-%d"


class TemplateKind(enum.StrEnum):
    """How a report's executable is turned into what runs."""

    FORMAT = "format"  # a .sql/.hql file, rendered with str.format
    JINJA = "jinja"  # a .sql.j2/.hql.j2 file, rendered with Jinja2
    SCRIPT = "script"  # an executable, run with arguments


@dataclass(frozen=True)
class Template:
    """A report's executable: a query template or a script."""

    path: Path
    kind: TemplateKind
    language: str  # the report type: "sql", "hive" or "script"
    text: str = ""


class Renderable(Protocol):
    """What rendering needs of a report (a ``config.ReportConfig`` has it)."""

    key: str
    template: Template


def sql_quote(value: object) -> str:
    """Quote a value as an SQL string literal (MariaDB and Hive both read it)."""
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


if TYPE_CHECKING:
    import jinja2


@functools.lru_cache(maxsize=None)
def _environment() -> "jinja2.Environment":
    # Imported here: jinja2 costs a third of the start-up of a run that has
    # nothing due, and only .j2 templates need it.
    import jinja2

    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    environment.filters["sql_quote"] = sql_quote
    return environment


@functools.lru_cache(maxsize=None)
def _compiled(text: str) -> "jinja2.Template":
    return _environment().from_string(text)


def template_variables(template: Template) -> set[str]:
    """The top-level names a template uses. Raises on a template that won't parse."""
    if template.kind == "jinja":
        import jinja2.meta

        return set(jinja2.meta.find_undeclared_variables(
            _environment().parse(template.text)))
    names = set()
    for _, field, _, _ in string.Formatter().parse(template.text):
        if field is None:
            continue
        name = field.split(".", 1)[0].split("[", 1)[0]
        if name == "" or name.isdigit():
            raise ValueError("a positional placeholder {} or {0} is not allowed; escape "
                             "literal braces as {{ and }}")
        names.add(name)
    return names


def variables(report: Renderable, interval: Interval,
              explode: Mapping[str, str]) -> dict[str, object]:
    """Every variable a template of this report gets for this interval."""
    start, end = interval.start, interval.end
    values: dict[str, object] = {
        "from_timestamp": start.strftime(TIMESTAMP_FORMAT),
        "to_timestamp": end.strftime(TIMESTAMP_FORMAT),
        "from_date": start.strftime(DATE_FORMAT),
        "to_date": end.strftime(DATE_FORMAT),
        "year": f"{start.year:04d}",
        "month": f"{start.month:02d}",
        "day": f"{start.day:02d}",
        "hour": f"{start.hour:02d}",
    }
    values.update(explode)
    return values


def render(report: Renderable, interval: Interval, explode: Mapping[str, str]) -> str:
    """The query text of ``report`` for ``interval``. Raises TemplateError."""
    template = report.template
    values = variables(report, interval, explode)
    if template.kind == "format":
        try:
            return template.text.format(**values)
        except KeyError as e:
            raise TemplateError(
                f"template {template.path} uses unknown placeholder {{{e.args[0]}}} "
                f"(known: {', '.join(sorted(values))})") from e
        except (IndexError, ValueError) as e:
            raise TemplateError(f"template {template.path} cannot be formatted: {e}") from e
    import jinja2

    context = dict(values, start=interval.start, end=interval.end,
                   granularity=interval.granularity.value, report=report.key,
                   explode=dict(explode))
    try:
        return _compiled(template.text).render(context)
    except jinja2.UndefinedError as e:
        raise TemplateError(f"template {template.path}: {e.message} "
                            f"(known: {', '.join(sorted(context))})") from e
    except jinja2.TemplateError as e:
        raise TemplateError(f"template {template.path} cannot be rendered: {e}") from e


def script_argv(report: Renderable, interval: Interval,
                explode: Mapping[str, str]) -> list[str]:
    """``script start_date end_date <values sorted by placeholder> <query folder>``."""
    path = report.template.path
    fmt = interval.granularity.date_format  # hourly scripts get the time too
    return ([str(path), interval.start.strftime(fmt), interval.end.strftime(fmt)]
            + [explode[name] for name in sorted(explode)]
            + [str(path.parent)])
