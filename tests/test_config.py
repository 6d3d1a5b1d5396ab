"""Config validation: every problem names the file, the report, the key and the value."""

import pytest

from reportupdater.config import load_config
from reportupdater.errors import ConfigError

SCRIPT = "#!/bin/sh\nprintf 'date\\tn\\n%s\\t1\\n' \"$1\"\n"


def messages(config):
    return [str(p) for p in config.problems]


def test_every_problem_is_reported_and_good_reports_survive(make_folder):
    folder = make_folder("""
        reports:
            good:
                type: script
                granularity: days
                starts: 2026-01-01
            bad_granularity:
                type: script
                granularity: fortnights
                starts: 2026-01-01
            bad_lag:
                type: script
                granularity: days
                starts: 2026-01-01
                lag: -5
            no_start:
                type: script
                granularity: days
        """, executables={"good": SCRIPT, "bad_granularity": SCRIPT, "bad_lag": SCRIPT,
                          "no_start": SCRIPT})
    config = load_config(folder)
    assert [r.key for r in config.reports] == ["good"]
    path = folder / "config.yaml"
    assert messages(config) == [
        f"{path}:9, report 'bad_granularity', key 'granularity': granularity 'fortnights' "
        "is not one of hours, days, weeks, months",
        f"{path}:15, report 'bad_lag', key 'lag': lag must be a whole number of seconds "
        ">= 0, not -5",
        f"{path}:16, report 'no_start', key 'starts': starts is required (the first date, "
        "YYYY-MM-DD)",
    ]


def test_unknown_keys_are_warnings_that_name_them(make_folder):
    folder = make_folder("""
        reportz: {}
        reports:
            r:
                type: script
                granularity: days
                starts: 2026-01-01
                granulartiy: weeks
        """, executables={"r": SCRIPT})
    config = load_config(folder)
    assert [r.key for r in config.reports] == ["r"]
    assert all(p.severity == "warning" for p in config.problems)
    assert any("unknown top-level key 'reportz'" in m for m in messages(config))
    assert any("report 'r', key 'granulartiy': unknown key 'granulartiy'" in m
               for m in messages(config))


def test_defaults_fill_any_report_key(make_folder):
    folder = make_folder("""
        defaults: {type: script, granularity: months, starts: 2025-03-04, lag: 60}
        reports:
            r: {}
        """, executables={"r": SCRIPT})
    (report,) = load_config(folder).reports
    assert (report.granularity.value, report.starts.day, report.lag) == ("months", 4, 60)


@pytest.mark.parametrize("value, reason", [
    ("../etc", "it contains '..'"),
    ("a/b", "it contains '/'"),
    ("it's", "it contains \"'\""),
    ("back\\slash", "it contains '\\\\'"),
    ("tab\there", "it contains the control character '\\t'"),
])
def test_dangerous_explode_values_are_refused(make_folder, value, reason):
    folder = make_folder("""
        reports:
            r: {type: script, granularity: days, starts: 2026-01-01, explode_by: {wiki: wikis.txt}}
        """, files={"wikis.txt": f"enwiki\n{value}\n"}, executables={"r": SCRIPT})
    config = load_config(folder)
    assert config.reports == ()
    (problem,) = config.errors
    assert problem.report == "r" and problem.key == "explode_by.wiki"
    assert f"explode value {value!r} from file" in problem.message
    assert reason in problem.message


def test_explode_by_inline_list_file_and_single_token(make_folder):
    folder = make_folder("""
        reports:
            r:
                type: script
                granularity: days
                starts: 2026-01-01
                explode_by:
                    wiki: wikis.txt
                    editor: visualeditor, wikitext
                    platform: desktop
        """, files={"wikis.txt": "enwiki\n\ndewiki\n"}, executables={"r": SCRIPT})
    (report,) = load_config(folder).reports
    assert dict(report.explode_by) == {"editor": ("visualeditor", "wikitext"),
                                       "platform": ("desktop",),
                                       "wiki": ("enwiki", "dewiki")}
    combos = list(report.explode_combinations())
    assert len(combos) == 4 and combos[0] == {"editor": "visualeditor", "platform": "desktop",
                                              "wiki": "enwiki"}
    assert report.timeline_path(folder, combos[0]) == folder / "r/visualeditor/desktop/enwiki.tsv"


def test_both_template_kinds_is_an_error(make_folder):
    folder = make_folder("""
        databases: {d: {engine: duckdb}}
        reports:
            r: {db: d, granularity: days, starts: 2026-01-01}
        """, files={"r.sql": "SELECT 1", "r.sql.j2": "SELECT 1"})
    (problem,) = load_config(folder).errors
    assert "both" in problem.message and "r.sql.j2" in problem.message and problem.key == "execute"


def test_unknown_placeholders_fail_the_report_and_are_named(make_folder):
    folder = make_folder("""
        databases: {d: {engine: duckdb}}
        reports:
            legacy: {db: d, granularity: days, starts: 2026-01-01}
            jinja: {db: d, granularity: days, starts: 2026-01-01}
        """, files={"legacy.sql": "SELECT '{from_timestamp}', '{wikii}'",
                    "jinja.sql.j2": "SELECT '{{ from_date }}', '{{ edtior }}'"})
    config = load_config(folder)
    assert config.reports == ()
    legacy, jinja = config.errors
    assert "uses unknown placeholder {wikii}" in legacy.message
    assert "uses unknown placeholder {edtior}" in jinja.message


def test_sql_reports_need_a_known_database(make_folder):
    folder = make_folder("""
        databases: {one: {host: localhost, db: x}}
        reports:
            r: {db: two, granularity: days, starts: 2026-01-01}
        """, files={"r.sql": "SELECT 1"})
    (problem,) = load_config(folder).errors
    assert problem.message == "db 'two' is not a key of databases (known: one)"


def test_missing_script_and_executable_bit(make_folder):
    folder = make_folder("""
        reports:
            gone: {type: script, granularity: days, starts: 2026-01-01}
            plain: {type: script, granularity: days, starts: 2026-01-01}
        """, files={"plain": SCRIPT})
    gone, plain = load_config(folder).errors
    assert "does not exist" in gone.message
    assert "is not executable (chmod +x it)" in plain.message


def test_execute_cannot_leave_the_query_folder(make_folder):
    folder = make_folder("""
        reports:
            r: {type: script, granularity: days, starts: 2026-01-01, execute: ../../bin/sh}
        """)
    (problem,) = load_config(folder).errors
    assert "must stay inside the query folder" in problem.message


def test_graphite_is_validated(make_folder):
    folder = make_folder("""
        graphite: {host: localhost, port: twenty, lookups: {wiki: missing.yaml}}
        reports:
            r: {type: script, granularity: days, starts: 2026-01-01}
        """, executables={"r": SCRIPT})
    errors = [p.message for p in load_config(folder).errors]
    assert "graphite port must be a whole number, not 'twenty'" in errors
    assert any("missing.yaml" in e and "cannot be read" in e for e in errors)


@pytest.mark.parametrize("text, message", [
    ("reports: [a, b]", "'reports' must be a mapping"),
    ("defaults: {}", "the config has no 'reports' key"),
    ("reports: {a: [}", "is not valid YAML"),
])
def test_unusable_configs_raise(make_folder, text, message):
    folder = make_folder(text)
    with pytest.raises(ConfigError, match=message):
        load_config(folder)


def test_config_path_lookup_order(make_folder, tmp_path, monkeypatch):
    folder = make_folder("reports: {}")
    elsewhere = tmp_path / "other.yaml"
    elsewhere.write_text("reports: {x: {}}")
    assert load_config(folder, elsewhere).report_keys == ("x",)
    assert load_config(folder).path == folder / "config.yaml"
    (folder / "config.yaml").unlink()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("reports: {cwd: {}}")
    assert load_config(folder).report_keys == ("cwd",)


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "tab\tname"])
def test_report_names_cannot_escape_the_output_folder(make_folder, name):
    folder = make_folder(f"""
        reports:
            {name!r}: {{type: script, granularity: days, starts: 2026-01-01, execute: s}}
        """.replace("'", '"'), executables={"s": SCRIPT})
    config = load_config(folder)
    assert config.reports == ()
    (problem,) = config.errors
    assert problem.message.startswith(f"report name {name!r} is refused")


def test_dialect_is_read_and_a_bad_one_is_named(make_folder):
    folder = make_folder("""
        databases:
            d: {engine: duckdb}
        defaults:
            db: d
            granularity: days
            starts: 2026-01-01
        reports:
            good:
                dialect: spark
            bad:
                dialect: oracle
        """, files={"good.sql": "SELECT 1", "bad.sql": "SELECT 1"})
    config = load_config(folder)
    assert [(r.key, r.dialect) for r in config.reports] == [("good", "spark")]
    assert messages(config) == [
        f"{folder / 'config.yaml'}:12, report 'bad', key 'dialect': dialect 'oracle' is not "
        "one of mysql, hive, spark, duckdb, trino, presto, postgres, sqlite"]
