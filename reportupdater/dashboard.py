"""A Grafana dashboard for the reports' Graphite metrics, from the config.

Input: a config and the reports to include. Output: a Grafana dashboard model
(grafana-foundation-sdk), with a text panel naming each report's description,
owner and ticket; one time-series panel per configured metric, lines
unstacked, legend as a list; and a query variable per placeholder of the
Graphite paths (``wiki``, ``editor``...), each filled by a Graphite find
query on the path up to that placeholder. Targets are the configured paths
with ``{_metric}`` set and every other placeholder as ``$name``, so each
panel's target, with its variables set, names exactly the series a run pushes.

The SDK has no Graphite query type, so ``GraphiteQuery`` supplies one and is
registered for decoding: a dashboard's JSON loads back into the same model.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from dataclasses import dataclass
from typing import Any, Self, Sequence

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import text as text_builders
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common, dashboard as dashboard_models

from .config import Config, ReportConfig
from .errors import UsageError

DATASOURCE_TYPE = "graphite"
PANEL_WIDTH, PANEL_HEIGHT = 12, 8  # two panels a row on Grafana's 24-column grid
RATIO_WORDS = ("share", "ratio", "rate", "fraction", "percent")


# -- a Graphite query in the SDK's model ---------------------------------------------


class GraphiteQuery(cogvariants.Dataquery):
    """A Graphite panel target: ``{"refId", "target", "datasource"?, "hide"?}``."""

    def __init__(self, target: str = "", ref_id: str = "A",
                 datasource: dashboard_models.DataSourceRef | None = None,
                 hide: bool | None = None) -> None:
        self.target = target
        self.ref_id = ref_id
        self.datasource = datasource
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {"refId": self.ref_id, "target": self.target}
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        source = data.get("datasource")
        return cls(str(data.get("target", "")), str(data.get("refId", "A")),
                   dashboard_models.DataSourceRef.from_json(source) if source else None,
                   data.get("hide"))


class GraphiteQueryBuilder(cogbuilder.Builder[GraphiteQuery]):
    def __init__(self, target: str, ref_id: str = "A") -> None:
        self._internal = GraphiteQuery(target, ref_id)

    def datasource(self, ref: dashboard_models.DataSourceRef) -> Self:
        self._internal.datasource = ref
        return self

    def build(self) -> GraphiteQuery:
        return self._internal


cogruntime.register_dataquery_variant(
    cogruntime.DataqueryConfig(identifier=DATASOURCE_TYPE, from_json_hook=GraphiteQuery.from_json))


# -- paths ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathPart:
    """One dot-separated component of a Graphite path template."""

    text: str  # as configured, e.g. "byWiki", "{wiki}" or "wiki_{wiki}"
    fields: tuple[str, ...]  # the placeholders it uses


def path_parts(path: str) -> list[PathPart]:
    parts = []
    for component in path.split("."):
        fields = tuple(name for _, name, _, _ in string.Formatter().parse(component) if name)
        parts.append(PathPart(component, fields))
    return parts


def _fill(component: str, values: dict[str, str]) -> str:
    """``component`` with each ``{field}`` replaced from ``values`` (unknown ones: ``*``)."""
    out = []
    for literal, name, _, _ in string.Formatter().parse(component):
        out.append(literal)
        if name:
            out.append(values.get(name, "*"))
    return "".join(out)


def prefix_parts(config: Config) -> list[str]:
    prefix = config.graphite.prefix.strip(".") if config.graphite else ""
    return prefix.split(".") if prefix else []


def panel_target(config: Config, report: ReportConfig, metric: str) -> str:
    """The report's path for ``metric`` with every other placeholder as ``$name``,
    aliased by the nodes the variables fill."""
    assert report.graphite is not None
    parts = path_parts(report.graphite.path)
    values = {f: f"${f}" for part in parts for f in part.fields if f != "_metric"}
    values["_metric"] = metric
    prefix = prefix_parts(config)
    target = ".".join([*prefix, *(_fill(p.text, values) for p in parts)])
    nodes = [len(prefix) + i for i, p in enumerate(parts)
             if any(f != "_metric" for f in p.fields)]
    if not nodes:
        return f"alias({target}, '{metric}')"
    return f"aliasByNode({target}, {', '.join(map(str, nodes))})"


def variable_query(config: Config, report: ReportConfig, name: str) -> tuple[str, str | None]:
    """The Graphite find query listing the values of placeholder ``name``, and the
    regex that cuts the value out of a component with other text (or None)."""
    assert report.graphite is not None
    parts = path_parts(report.graphite.path)
    values: dict[str, str] = {}
    components = []
    for part in parts:
        if name in part.fields:
            components.append(_fill(part.text, {}))
            regex = None
            if part.text != "{" + name + "}":
                pattern = "".join(re.escape(literal) + ("(.*)" if field == name else ".*"
                                                        if field else "")
                                  for literal, field, _, _ in string.Formatter().parse(part.text))
                regex = f"/^{pattern}$/"
            return ".".join([*prefix_parts(config), *components]), regex
        for field in part.fields:
            if field != "_metric":
                values[field] = f"${field}"
        components.append(_fill(part.text, values))
    raise ValueError(f"{name!r} is not a placeholder of {report.graphite.path!r}")


def unit_of(column: str) -> str:
    return "percentunit" if any(w in column.lower() for w in RATIO_WORDS) else "short"


# -- the dashboard ----------------------------------------------------------------------------


def graphite_reports(config: Config, names: Sequence[str] = ()) -> list[ReportConfig]:
    """The reports to show: those named (each must have a graphite section), else
    every valid report that has one. Raises UsageError."""
    if names:
        unknown = [n for n in names if n not in config.report_keys]
        if unknown:
            raise UsageError(f"unknown report {', '.join(map(repr, unknown))}; the config "
                             f"{config.path} has: {', '.join(config.report_keys) or 'none'}")
        chosen = []
        for name in names:
            report = config.report(name)
            if report is None:
                raise UsageError(f"report {name!r} has config errors; run "
                                 "'reportupdater validate' for the list")
            if report.graphite is None:
                raise UsageError(f"report {name!r} has no graphite section: there is "
                                 "nothing to chart in Graphite")
            chosen.append(report)
        return chosen
    chosen = [r for r in config.reports if r.graphite is not None]
    if not chosen:
        raise UsageError(f"no report in {config.path} has a graphite section: there is "
                         "nothing to chart in Graphite")
    return chosen


def introduction(reports: Sequence[ReportConfig]) -> str:
    lines = ["Generated by `reportupdater dashboard` from the reports' `graphite` sections. "
             "Choose values of the variables above; each panel is one metric.", ""]
    for report in reports:
        lines.append(f"### {report.key}")
        lines.append(getattr(report, "description", None) or "*No description.*")
        lines.append("")
        owner = ", ".join(report.owner) or "not set"
        ticket = getattr(report, "ticket", None) or "not set"
        lines.append(f"- **Owner:** {owner}")
        lines.append(f"- **Ticket:** {ticket}")
        lines.append(f"- **Granularity:** {report.granularity.value}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def dashboard_uid(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:27]
    return f"{slug}-{hashlib.sha1(title.encode()).hexdigest()[:12]}"


def build_dashboard(config: Config, reports: Sequence[ReportConfig], *,
                    datasource: str = "graphite", title: str | None = None
                    ) -> dashboard_models.Dashboard:
    """The dashboard model for ``reports`` (see the module docstring)."""
    title = title or f"reportupdater: {config.query_folder.resolve().name}"
    source = dashboard_models.DataSourceRef(type_val=DATASOURCE_TYPE, uid=datasource)
    board = (dashboard_builders.Dashboard(title).uid(dashboard_uid(title))
             .tags(["reportupdater"]).timezone("utc").time("now-90d", "now")
             .editable())
    intro_height = 3 + 5 * len(reports)
    board.with_panel(text_builders.Panel().title("About these reports")
                     .mode(_text_mode()).content(introduction(reports))
                     .grid_pos(_grid(0, 0, 24, intro_height)))
    seen: set[str] = set()
    for report in reports:
        assert report.graphite is not None
        for part in path_parts(report.graphite.path):
            for name in part.fields:
                if name == "_metric" or name in seen:
                    continue
                seen.add(name)
                query, regex = variable_query(config, report, name)
                variable = (dashboard_builders.QueryVariable(name).label(name)
                            .datasource(source).query(query).multi(True).include_all(True)
                            .all_value("*").refresh(dashboard_models.VariableRefresh.ON_DASHBOARD_LOAD)
                            .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC))
                if regex:
                    variable.regex(regex)
                board.with_variable(variable)
    index = 0
    for report in reports:
        assert report.graphite is not None
        for metric, column in report.graphite.metrics:
            x = (index % 2) * PANEL_WIDTH
            y = intro_height + (index // 2) * PANEL_HEIGHT
            index += 1
            board.with_panel(
                timeseries.Panel().title(f"{report.key}: {metric}")
                .description(f"Column {column!r} of report {report.key!r}, one point per "
                             f"{report.granularity.value[:-1]}.")
                .datasource(source)
                .with_target(GraphiteQueryBuilder(panel_target(config, report, metric))
                             .datasource(source))
                .unit(unit_of(column)).line_width(1).fill_opacity(0)
                .draw_style(common.GraphDrawStyle.LINE)
                .stacking(common_builders.StackingConfig().mode(common.StackingMode.NONE))
                .legend(common_builders.VizLegendOptions().show_legend(True)
                        .display_mode(common.LegendDisplayMode.LIST)
                        .placement(common.LegendPlacement.BOTTOM))
                .grid_pos(_grid(x, y, PANEL_WIDTH, PANEL_HEIGHT)))
    return board.build()


def _text_mode():
    from grafana_foundation_sdk.models import text

    return text.TextMode.MARKDOWN


def _grid(x: int, y: int, w: int, h: int) -> dashboard_models.GridPos:
    return dashboard_models.GridPos(h=h, w=w, x=x, y=y)


def dashboard_json(model: dashboard_models.Dashboard) -> str:
    """The model as Grafana's dashboard JSON, for import."""
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def load_dashboard(text: str) -> dashboard_models.Dashboard:
    """A dashboard JSON back into the model (Graphite targets as ``GraphiteQuery``)."""
    return dashboard_models.Dashboard.from_json(json.loads(text))
