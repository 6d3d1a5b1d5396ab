"""The config spec: one declaration per key, Enums for closed sets, docs in step, no cycle."""

import re
import subprocess
import sys

import pytest

from conftest import REPO
from reportupdater.config import (DatabaseEngine, ReportConfig, ReportType, Config,
                                  load_config)
from reportupdater.config.sections import (DATABASE, GRAPHITE, HIVE, REPORT, STATSD,
                                           TOP_LEVEL)


def documented_keys(doc: str, heading: str) -> set[str]:
    text = (REPO / "docs" / doc).read_text()
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([a-z_0-9]+)` \|", section, re.M))


@pytest.mark.parametrize("section, doc, heading", [
    (TOP_LEVEL, "config.md", "## Top-level keys"),
    (REPORT, "config.md", "## Report keys"),
    (DATABASE, "config.md", "## Databases"),
    (GRAPHITE, "graphite.md", "## Graphite configuration"),
    (STATSD, "graphite.md", "## StatsD"),
    (HIVE, "hive.md", "## The `hive:` section"),
])
def test_every_key_of_the_spec_is_documented(section, doc, heading):
    assert set(section.fields) <= documented_keys(doc, heading)


def test_closed_sets_are_enums_that_compare_as_text(make_folder):
    folder = make_folder("""
        databases: {d: {engine: duckdb}}
        reports:
            r: {db: d, granularity: days, starts: 2026-01-01}
        """, files={"r.sql": "SELECT 1"})
    config = load_config(folder)
    (report,) = config.reports
    assert report.type is ReportType.SQL and report.type == "sql" and f"{report.type}" == "sql"
    assert config.databases["d"].engine is DatabaseEngine.DUCKDB


def test_dead_fields_are_gone():
    assert "hive" not in ReportConfig.__dataclass_fields__
    assert "hive" not in Config.__dataclass_fields__


def test_templates_do_not_import_the_config():
    code = ("import sys, reportupdater.templates; "
            "print('reportupdater.config' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert result.stdout == "False\n"


def test_empty_graphite_and_statsd_sections_mean_none(make_folder):
    folder = make_folder("""
        graphite:
        statsd:
        defaults:
        reports: {}
        """)
    config = load_config(folder)
    assert (config.problems, config.graphite, config.statsd) == ((), None, None)
