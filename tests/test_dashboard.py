"""``reportupdater dashboard``: the Grafana model, and its targets resolved in a
real graphite-web holding the points a real run pushed to carbon."""

from __future__ import annotations

import csv
import io
import json
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from reportupdater import dashboard
from reportupdater.config import load_config
from servers.web import DEMO_NOW, REPO, cli

LOOKUP = {"enwiki": "en_wikipedia", "dewiki": "de_wikipedia", "eswiki": "es_wikipedia"}
PREFIX = "ru_test"


def test_the_demo_dashboard_round_trips_through_the_model(run_cli):
    result = run_cli("dashboard", "queries", "--title", "Toggles", "--datasource", "gr1")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    model = dashboard.load_dashboard(result.out)
    assert dashboard.dashboard_json(model) == result.out
    assert isinstance(model.panels[1].targets[0], dashboard.GraphiteQuery)
    assert document["title"] == "Toggles"
    types = [p["type"] for p in document["panels"]]
    assert types == ["text", "timeseries"]  # one panel per metric: the demo has one
    intro = document["panels"][0]["options"]["content"]
    assert "### toggles_by_editor" in intro
    assert "- **Owner:** not set" in intro and "- **Ticket:** not set" in intro
    panel = document["panels"][1]
    assert panel["title"] == "toggles_by_editor: toggles"
    assert panel["fieldConfig"]["defaults"]["custom"]["stacking"] == {"mode": "none"}
    assert panel["fieldConfig"]["defaults"]["unit"] == "short"
    assert panel["options"]["legend"]["showLegend"] is True
    assert panel["targets"] == [{
        "datasource": {"type": "graphite", "uid": "gr1"}, "refId": "A",
        "target": "aliasByNode(MediaWiki.CodeMirror.toggles.byEditor.$editor.byEnabled"
                  ".$enabled.byWiki.$wiki, 4, 6, 8)"}]
    variables = {v["name"]: v["query"] for v in document["templating"]["list"]}
    assert variables == {
        "editor": "MediaWiki.CodeMirror.*.byEditor.*",
        "enabled": "MediaWiki.CodeMirror.*.byEditor.$editor.byEnabled.*",
        "wiki": "MediaWiki.CodeMirror.*.byEditor.$editor.byEnabled.$enabled.byWiki.*",
    }


def test_one_panel_per_metric_with_units_and_component_regexes(make_folder, run_cli):
    folder = make_folder("""
        databases: {events: {engine: duckdb}}
        defaults: {db: events}
        graphite: {host: localhost, prefix: team.reports}
        reports:
            usage:
                granularity: days
                starts: 2026-01-01
                explode_by: {wiki: "enwiki, dewiki"}
                graphite:
                    path: "usage.{_metric}.wiki_{wiki}"
                    metrics: {users: users, active_share: share}
            totals:
                granularity: months
                starts: 2026-01-01
                graphite:
                    path: "totals.{_metric}"
                    metrics: {edits: edits}
        """, {"usage.sql": "SELECT 1", "totals.sql": "SELECT 1"})
    result = run_cli("dashboard", folder)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    panels = {p["title"]: p for p in document["panels"][1:]}
    assert list(panels) == ["usage: users", "usage: active_share", "totals: edits"]
    assert panels["usage: active_share"]["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert panels["usage: users"]["targets"][0]["target"] == (
        "aliasByNode(team.reports.usage.users.wiki_$wiki, 4)")
    assert panels["totals: edits"]["targets"][0]["target"] == (
        "alias(team.reports.totals.edits, 'edits')")
    [wiki] = document["templating"]["list"]
    assert (wiki["name"], wiki["query"], wiki["regex"]) == (
        "wiki", "team.reports.usage.*.wiki_*", "/^wiki_(.*)$/")


@pytest.mark.parametrize("args, message", [
    (["-r", "weekly_toggles"], "report 'weekly_toggles' has no graphite section: there is "
                               "nothing to chart in Graphite"),
    (["-r", "nope"], "unknown report 'nope'; the config config.yaml has: "
                     "toggles_by_editor, weekly_toggles, toggles_by_edit_count, "
                     "monthly_summary"),
])
def test_dashboard_errors(run_cli, args, message):
    result = run_cli("dashboard", "queries", *args)
    assert result.code == 2
    assert message in result.err


def find(graphite_web, query: str) -> list[str]:
    url = f"{graphite_web.url}/metrics/find?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=30) as response:
        return sorted(node["text"] for node in json.load(response))


def pushed_points(output: Path) -> dict[str, dict[int, float]]:
    """The points a run pushes for toggles_by_editor, worked out from its TSVs."""
    from reportupdater.graphite import interval_timestamp
    from reportupdater.intervals import Granularity

    points: dict[str, dict[int, float]] = {}
    for wiki, name in LOOKUP.items():
        text = (output / "toggles_by_editor" / f"{wiki}.tsv").read_text()
        for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
            if row["toggles"] == "":
                continue
            metric = (f"{PREFIX}.MediaWiki.CodeMirror.toggles.byEditor.{row['editor']}"
                      f".byEnabled.{row['enabled']}.byWiki.{name}")
            ts = interval_timestamp(row["date"], Granularity.DAYS)
            points.setdefault(metric, {})[ts] = float(row["toggles"])
    return points


def test_every_target_resolves_to_the_series_a_run_pushed(carbon, graphite_web, tmp_path):
    queries, output = tmp_path / "queries", tmp_path / "output"
    shutil.copytree(REPO / "queries", queries, ignore=shutil.ignore_patterns(".*"))
    config = shutil.copy(REPO / "config.yaml", queries / "config.yaml")
    text = config.read_text().replace(
        "    host: localhost\n    port: 2003\n",
        f"    host: 127.0.0.1\n    port: {carbon.line_port}\n    prefix: {PREFIX}\n")
    assert text != config.read_text()
    config.write_text(text)
    result = cli("run", queries, output, "--now", DEMO_NOW, "-r", "toggles_by_editor")
    assert result.returncode == 0, result.stderr
    assert "point(s) delivered" in result.stderr
    expected = pushed_points(output)
    for metric, points in expected.items():  # /render reads whisper files: wait for all
        assert carbon.wait_for(metric, len(points), timeout=60) == points, metric

    made = cli("dashboard", queries, "--datasource", "graphite")
    assert made.returncode == 0, made.stderr
    model = dashboard.load_dashboard(made.stdout)
    variables = [(v.name, v.query) for v in model.templating.list_val]
    assert [name for name, _ in variables] == ["editor", "enabled", "wiki"]
    timeseries = [p for p in model.panels if p.type_val == "timeseries"]
    assert len(timeseries) == 1
    [target] = timeseries[0].targets
    stamps = [ts for points in expected.values() for ts in points]
    resolved = {}

    def substitute(text: str, chosen: dict[str, str]) -> str:
        for name, value in chosen.items():
            text = text.replace(f"${name}", value)
        return text

    # Every combination of values the variables' own find queries offer.
    def combinations(chosen: dict[str, str], rest):
        if not rest:
            yield dict(chosen)
            return
        (name, query), *later = rest
        values = find(graphite_web, substitute(query, chosen))
        assert values, f"variable {name}: {substitute(query, chosen)} finds nothing"
        for value in values:
            yield from combinations({**chosen, name: value}, later)

    for chosen in combinations({}, variables):
        series = graphite_web.render_json(substitute(target.target, chosen),
                                          min(stamps) - 86400, max(stamps) + 86400)
        assert len(series) == 1, chosen
        [one] = series
        assert one["target"] == f"{chosen['editor']}.{chosen['enabled']}.{chosen['wiki']}"
        metric = (f"{PREFIX}.MediaWiki.CodeMirror.toggles.byEditor.{chosen['editor']}"
                  f".byEnabled.{chosen['enabled']}.byWiki.{chosen['wiki']}")
        resolved[metric] = {ts: v for v, ts in one["datapoints"] if v is not None}
    assert resolved == expected
