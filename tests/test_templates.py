"""Template rendering: legacy str.format and Jinja2, with the same variables."""

import datetime as dt

import pytest

from reportupdater.config import load_config
from reportupdater.errors import TemplateError
from reportupdater.intervals import Granularity, Interval
from reportupdater.templates import render, script_argv, sql_quote


def one_report(make_folder, template_name, text, granularity="days"):
    folder = make_folder(f"""
        databases: {{d: {{engine: duckdb}}}}
        reports:
            r: {{db: d, granularity: {granularity}, starts: 2026-01-01,
                explode_by: {{wiki: "enwiki, dewiki"}}}}
        """, files={template_name: text})
    config = load_config(folder)
    assert not config.errors, config.errors
    return config.reports[0]


def test_legacy_template_gets_the_original_placeholders(make_folder):
    report = one_report(make_folder, "r.sql",
                        "{from_timestamp} {to_timestamp} {wiki} {from_date} {year}-{month}-{day}")
    interval = Interval(dt.datetime(2026, 3, 7), Granularity.DAYS)
    assert render(report, interval, {"wiki": "enwiki"}) == (
        "20260307000000 20260308000000 enwiki 2026-03-07 2026-03-07")


def test_jinja_template_gets_dates_datetimes_and_explode(make_folder):
    report = one_report(make_folder, "r.sql.j2",
                        "{{ from_date }}|{{ to_date }}|{{ start.strftime('%A') }}|"
                        "{{ end.isoformat() }}|{{ granularity }}|{{ report }}|"
                        "{{ explode['wiki'] }}|{{ wiki | sql_quote }}|{{ hour }}",
                        granularity="hours")
    interval = Interval(dt.datetime(2026, 3, 7, 23), Granularity.HOURS)
    assert render(report, interval, {"wiki": "dewiki"}) == (
        "2026-03-07|2026-03-08|Saturday|2026-03-08T00:00:00|hours|r|dewiki|'dewiki'|23")


@pytest.mark.parametrize("value, quoted", [
    ("plain", "'plain'"), ("it's", "'it''s'"), ("back\\slash", "'back\\\\slash'"), (7, "'7'"),
])
def test_sql_quote(value, quoted):
    assert sql_quote(value) == quoted


def test_a_runtime_undefined_name_is_a_template_error(make_folder):
    report = one_report(make_folder, "r.sql.j2", "{{ explode['editor'] }}")
    with pytest.raises(TemplateError, match="'dict object' has no attribute 'editor'"):
        render(report, Interval(dt.datetime(2026, 3, 7), Granularity.DAYS), {"wiki": "x"})


def test_script_arguments(make_folder):
    folder = make_folder("""
        reports:
            r: {type: script, granularity: weeks, starts: 2026-01-01,
                explode_by: {wiki: enwiki, editor: "a, b"}}
        """, executables={"r": "#!/bin/sh\n"})
    report = load_config(folder).reports[0]
    interval = Interval(dt.datetime(2026, 3, 1), Granularity.WEEKS)
    assert script_argv(report, interval, {"wiki": "enwiki", "editor": "b"}) == [
        str(folder / "r"), "2026-03-01", "2026-03-08", "b", "enwiki", str(folder)]
