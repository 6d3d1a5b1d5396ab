"""Build one ``ReportConfig`` from its settings merged over ``defaults``.

Input: the report's name and raw settings, ``defaults``, the databases,
Graphite and top-level ``hive:`` already read, and the query folder. Output:
a ``ReportConfig``, or None after every problem of the report is reported.
The single keys are checked by the REPORT spec; here are the checks that
involve several keys or the files of the query folder.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..templates import Template, TemplateKind, template_variables
from .explode import (JINJA_EXTRA_VARIABLES, TEMPLATE_VARIABLES, ValueRule,
                      read_explode_by)
from .hive import hive_sink, read_hive_settings
from .model import (DatabaseConfig, ExplodeValues, GraphiteConfig, ReportConfig,
                    ReportGraphite, ReportType)
from .cohorts import read_cohort_report
from .names import check_explode_value
from .problems import Collector
from .sections import REPORT, unsafe_in_metric
from .template_file import read_template
from .spec import FIRST_DATE, LAST_DATE, Int, Invalid, ProblemSink

if TYPE_CHECKING:
    from ..cohorts.spec import CohortConfig

Bad = ProblemSink


@dataclass(frozen=True)
class Context:
    """What every report is read against."""

    defaults: dict
    databases: Mapping[str, DatabaseConfig]
    graphite: GraphiteConfig | None
    top_hive: dict
    query_folder: Path
    cohorts: Mapping[str, CohortConfig] = field(default_factory=dict)


def read_report(key: str, settings: Any, ctx: Context, c: Collector) -> ReportConfig | None:
    base = ("reports", key)
    reason = check_explode_value(key)
    if reason:
        c.add(f"report name {key!r} is refused: {reason} (it becomes a file name in the "
              "output folder)", path=base, report=key)
        return None
    if not isinstance(settings, dict):
        c.add(f"the report's settings must be a mapping, not {settings!r}", path=base,
              report=key)
        return None
    before = len(c.problems)
    bad = c.sink(base, key)
    REPORT.warn_unknown(settings, bad)
    merged = {**ctx.defaults, **settings}
    values, _ = REPORT.read(merged, bad)
    if "funnel" in merged:
        bad("funnel is deprecated and ignored: several rows per date are always allowed",
            "funnel", "warning")
    if "execute" not in merged:
        values["execute"] = key
    _check_max_data_points(values, bad)
    derived = _derived(key, settings, values, ctx, c)
    if c.errors_since(before):
        return None
    report_type = values["type"]
    return ReportConfig(
        key=key, type=report_type, granularity=values["granularity"],
        starts=values["starts"], lag=values["lag"], execute=values["execute"],
        db=values["db"] if report_type is ReportType.SQL else None,
        max_data_points=values["max_data_points"], group=values["group"],
        timeout=values["timeout"], dialect=values["dialect"], owner=values["owner"] or (),
        description=values["description"], ticket=values["ticket"], ends=values["ends"],
        **derived)


def _derived(key: str, settings: dict, values: dict[str, Any], ctx: Context, c: Collector
             ) -> dict[str, Any]:
    """The parts of a report that need several keys or the query folder."""
    bad = c.sink(("reports", key), key)
    report_type = values["type"]
    explode_values = values["explode_values"]
    rule = ValueRule.for_report(report_type, explode_values)
    explode_by = read_explode_by(values["explode_by"], rule, ctx.query_folder, bad)
    _check_database(values, explode_by, ctx, bad)
    hive_settings = None
    if report_type is ReportType.HIVE and values["hive"] is not None:
        hive_settings = read_hive_settings({**ctx.top_hive, **values["hive"]},
                                           hive_sink(key, settings, ctx.defaults, c),
                                           ctx.query_folder)
    graphite = None
    if "graphite" in settings:
        graphite = read_report_graphite(settings["graphite"], ctx.graphite, bad)
    cohort = None
    if report_type is ReportType.COHORT:
        cohort = read_cohort_report(key, values, ctx.cohorts, bad)
    template = None
    if (values["execute"] is not None and report_type is not None
            and report_type is not ReportType.COHORT):
        template = read_template(report_type, values["execute"], ctx.query_folder, bad)
        if template is not None and explode_by is not None:
            check_placeholders(template, [name for name, _ in explode_by], bad)
    if explode_values is None and report_type is not ReportType.SCRIPT:
        explode_values = ExplodeValues.PLAIN
    _check_ends(values, bad)
    alerts = ()
    if settings.get("alerts") is not None:
        from ..alerts.settings import read_rules

        alerts = read_rules(settings["alerts"], rule_sink(key, c), dict(explode_by or ()))
    return dict(explode_by=explode_by, hive_settings=hive_settings, graphite=graphite,
                template=template, explode_values=explode_values, cohort=cohort,
                alerts=alerts)


def _check_ends(values: dict[str, Any], bad: Bad) -> None:
    if values["ends"] is not None and values["starts"] is not None \
            and values["ends"] <= values["starts"]:
        bad(f"ends {values['ends']:%Y-%m-%d} is not after starts {values['starts']:%Y-%m-%d}: "
            "the report computes nothing", "ends", "warning")


def rule_sink(report: str, c: Collector):
    """A problem sink for the alert rules: key paths as ``alerts[0].change.drop``,
    lines of the list items (source.key_lines numbers them)."""

    def add(message: str, path: tuple[str, ...], severity: str = "error") -> None:
        name = path[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path[1:])
        c.add(message, path=("reports", report, *path), report=report, severity=severity,
              key=name)

    return add


def _check_max_data_points(values: dict[str, Any], bad: Bad) -> None:
    """At most the intervals from FIRST_DATE to LAST_DATE, so dates stay in range."""
    points, granularity = values["max_data_points"], values["granularity"]
    if points is None or granularity is None:
        return
    limit = granularity.count(granularity.truncate(FIRST_DATE), granularity.truncate(LAST_DATE))
    try:
        Int(1, limit, unit=granularity.value).parse(points)
    except Invalid as e:
        bad(f"max_data_points {e} (the {granularity.value} from {FIRST_DATE.year} to "
            f"{LAST_DATE.year})", "max_data_points")
        values["max_data_points"] = None


def _check_database(values: dict[str, Any], explode_by: tuple | None, ctx: Context,
                    bad: Bad) -> None:
    if values["type"] is not ReportType.SQL:
        return
    db = values["db"]
    if db is None:
        bad("db is required for a sql report (a key of databases), in the report or "
            "in defaults", "db")
    elif not isinstance(db, str) or db not in ctx.databases:
        known = ", ".join(sorted(ctx.databases)) or "none defined"
        bad(f"db {db!r} is not a key of databases (known: {known})", "db")
    else:
        placeholder = ctx.databases[db].wiki_db_placeholder
        if (ctx.databases[db].auto_find_db_shard and placeholder
                and placeholder not in dict(explode_by or ())):
            bad(f"db {db!r} finds the shard from explode placeholder {placeholder!r}, "
                "but the report does not explode by it", "explode_by")


def read_report_graphite(raw: Any, graphite: GraphiteConfig | None, bad: Bad
                         ) -> ReportGraphite | None:
    if not isinstance(raw, dict):
        bad(f"graphite must be a mapping with path and metrics, not {raw!r}", "graphite")
        return None
    for k in raw:
        if k not in ("path", "metrics"):
            bad(f"unknown key {k!r} in graphite (known: path, metrics)", f"graphite.{k}")
            return None
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        bad(f"graphite.path must be a format string such as '{{_metric}}.{{wiki}}', "
            f"not {path!r}", "graphite.path")
        return None
    pairs = _metric_pairs(raw.get("metrics"), bad)
    if pairs is None:
        return None
    if graphite is None:
        bad("the report has a graphite section but the config has no top-level graphite "
            "(host, port)", "graphite")
        return None
    reason = _metric_path_problem(path)
    if reason:
        bad(f"graphite.path {path!r} {reason}", "graphite.path")
        return None
    return ReportGraphite(path=path, metrics=tuple(pairs))


def _metric_pairs(raw: Any, bad: Bad) -> list[tuple[str, str]] | None:
    """Metric name -> column; the original documented a mapping or a list of them."""
    pairs: list[tuple[str, str]] = []
    for item in raw if isinstance(raw, list) else [raw]:
        if not isinstance(item, dict) or not item:
            bad(f"graphite.metrics must map metric names to column names, not {raw!r}",
                "graphite.metrics")
            return None
        for name, column in item.items():
            if not isinstance(column, str):
                bad(f"graphite metric {name!r} must name a column, not {column!r}",
                    "graphite.metrics")
                return None
            char = unsafe_in_metric(str(name))
            if char:
                bad(f"graphite metric name {name!r} contains {char!r}, which can't be in "
                    "a metric path", "graphite.metrics")
                return None
            pairs.append((str(name), column))
    return pairs


def _metric_path_problem(path: str) -> str | None:
    try:
        parsed = list(string.Formatter().parse(path))
    except ValueError as e:
        return f"is not a valid format string: {e}"
    if any(name == "" for _, name, _, _ in parsed):
        return "has an empty {} placeholder; name it"
    for text, _, _, _ in parsed:
        if unsafe_in_metric(text):
            return (f"contains {unsafe_in_metric(text)!r}, which can't be in a metric path "
                    "(values from data are sanitised, the path's own text is not)")
    return None


def check_placeholders(template: Template, placeholders: list[str], bad: Bad) -> None:
    if template.kind == TemplateKind.SCRIPT:
        return
    try:
        used = template_variables(template)
    except Exception as e:  # noqa: BLE001 - any parse error is reported as such
        bad(f"template {str(template.path)!r} does not parse: {e}", "execute")
        return
    known = set(TEMPLATE_VARIABLES) | set(placeholders)
    if template.kind == TemplateKind.JINJA:
        known |= set(JINJA_EXTRA_VARIABLES)
    unknown = sorted(used - known)
    if unknown:
        bad(f"template {str(template.path)!r} uses unknown placeholder"
            f"{'s' if len(unknown) > 1 else ''} {', '.join('{' + u + '}' for u in unknown)} "
            f"(known: {', '.join(sorted(known))})", "execute")
