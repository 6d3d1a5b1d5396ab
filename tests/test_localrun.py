"""try, test and fixtures through the real CLI: local runs on DuckDB over fixture tables."""

import json
import textwrap
from xml.etree import ElementTree as ET

import pytest

from conftest import REPO

CONFIG = """
    databases:
        wiki:
            host: 127.0.0.1
            db: enwiki
    defaults:
        starts: 2026-10-01
        granularity: days
    reports:
        toggles:
            type: hive
            hive: {backend: hiveserver2, host: localhost}
        edits:
            db: wiki
        missing:
            type: hive
            hive: {backend: hiveserver2, host: localhost}
        unparsable:
            db: wiki
        script:
            type: script
    """

TOGGLES = """\
    SET hive.exec.dynamic.partition = true;
    SELECT '{from_date}' AS date, event.editor AS editor, COUNT(*) AS n,
      MIN(FROM_UNIXTIME(UNIX_TIMESTAMP(SUBSTR(dt, 1, 19), "yyyy-MM-dd'T'HH:mm:ss"))) AS first
    FROM event.CodeMirrorUsage
    WHERE year = {year} AND month = {month} AND day = {day} AND NOT useragent.is_bot
    GROUP BY event.editor
    """

EDITS = """\
    SELECT DATE_FORMAT(STR_TO_DATE(rev_timestamp, '%Y%m%d%H%i%s'), '%Y-%m-%d') AS date,
      COUNT(*) AS edits, COUNT(*) / 3 AS third, MAX(rev_id) > 1 AS big,
      UNIX_TIMESTAMP(MIN(rev_timestamp)) AS first_ts
    FROM revision
    WHERE rev_timestamp >= '{from_timestamp}' AND rev_timestamp < '{to_timestamp}'
    GROUP BY 1
    """

SCRIPT = """\
    #!/bin/sh
    printf 'date\\tfixtures\\n%s\\t%s\\n' "$1" "$(basename "$REPORTUPDATER_FIXTURES")"
    """


def events(*rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def toggle(editor, dt, bot=False):
    return {"event": {"editor": editor}, "useragent": {"is_bot": bot}, "dt": dt,
            "year": int(dt[:4]), "month": int(dt[5:7]), "day": int(dt[8:10])}


@pytest.fixture
def folder(make_folder):
    return make_folder(CONFIG, files={
        "toggles.hql": TOGGLES, "edits.sql": EDITS,
        "missing.hql": "SELECT '{from_date}' AS date, COUNT(*) AS n FROM event.nosuch\n",
        "unparsable.sql": "SELECT '{from_date}' AS date FROM (\n",
        "fx/event/codemirrorusage.jsonl": events(
            toggle("wikitext", "2026-10-01T12:00:00Z"),
            toggle("wikitext", "2026-10-01T09:30:00Z"),
            toggle("wikitext", "2026-10-01T10:00:00Z", bot=True),
            toggle("visual", "2026-10-02T08:00:00Z")),
        "fx/enwiki/revision.tsv": "rev_id\trev_timestamp\n1\t20261001120000\n"
                                  "2\t20261001130000\n3\t20261002130000\n",
        "fx/enwiki/revision.schema.yaml": "columns:\n  rev_timestamp: varbinary(14)\n",
    }, executables={"script": SCRIPT})


def test_try_prints_the_tsv_a_run_would_merge(folder, run_cli):
    result = run_cli("try", folder, "toggles", "--from", "2026-10-01", "--until", "2026-10-04",
                     "--fixtures", folder / "fx")
    assert result.code == 0, result.err
    assert result.out == ("date\teditor\tn\tfirst\n"
                          "2026-10-01\twikitext\t2\t2026-10-01 09:30:00\n"
                          "2026-10-02\tvisual\t1\t2026-10-02 08:00:00\n"
                          "2026-10-03\t\t\t\n")


def test_try_gives_mariadb_types_to_mariadb_queries(folder, run_cli):
    result = run_cli("try", folder, "edits", "--date", "2026-10-01", "--fixtures", folder / "fx")
    assert result.code == 0, result.err
    assert result.out == ("date\tedits\tthird\tbig\tfirst_ts\n"
                          "2026-10-01\t2\t0.6667\t1\t1790856000.000000\n")


def test_try_runs_scripts_with_the_fixture_folder(folder, run_cli):
    result = run_cli("try", folder, "script", "--date", "2026-10-01", "--fixtures", folder / "fx")
    assert result.code == 0, result.err
    assert result.out == "date\tfixtures\n2026-10-01\tfx\n"


def test_a_missing_table_is_named_with_the_path_looked_for(folder, run_cli):
    result = run_cli("try", folder, "missing", "--date", "2026-10-01", "--fixtures", folder / "fx")
    assert result.code == 1
    assert result.out == ""
    assert (f"report 'missing' interval 2026-10-01..2026-10-02: table event.nosuch has no "
            f"fixture: looked for {folder / 'fx/event/nosuch'}.{{jsonl,csv,tsv,parquet}}\n"
            "--- rendered query (hive) ---\n"
            "SELECT '2026-10-01' AS date, COUNT(*) AS n FROM event.nosuch\n"
            "--- transpiled query (duckdb) ---\n"
            "SELECT\n  '2026-10-01' AS date,\n  COUNT(*) AS n\nFROM event.nosuch\n") in result.err


def test_an_unparsable_query_shows_where(folder, run_cli):
    result = run_cli("try", folder, "unparsable", "--date", "2026-10-01",
                     "--fixtures", folder / "fx")
    assert result.code == 1
    assert ("sqlglot cannot parse the query as mysql: Expected table name but got "
            in result.err)
    assert "(line 1, column" in result.err
    assert "--- rendered query (mysql) ---\nSELECT '2026-10-01' AS date FROM (" in result.err
    assert "--- transpiled query" not in result.err


def test_a_duckdb_error_shows_its_position(make_folder, run_cli):
    folder = make_folder(CONFIG.replace("edits:", "edits:\n            dialect: mysql"), files={
        "edits.sql": "SELECT '{from_date}' AS date, nosuch FROM revision\n",
        "fx/enwiki/revision.csv": "rev_id\n1\n"})
    result = run_cli("try", folder, "edits", "--date", "2026-10-01", "--fixtures", folder / "fx")
    assert result.code == 1
    assert 'DuckDB: Binder Error: Referenced column "nosuch" not found' in result.err
    assert "LINE 3:   nosuch" in result.err
    assert "--- transpiled query (duckdb) ---\nSELECT\n  '2026-10-01' AS date,\n  nosuch\n" \
        in result.err


@pytest.mark.parametrize("args, message", [
    (["--date", "2026-10-01", "--from", "2026-10-01"],
     "give either --date or --from and --until, not both"),
    (["--from", "2026-10-01"], "give --date, or both --from and --until"),
    (["--date", "2026-10-01", "--fixtures", "nowhere"],
     "--fixtures 'nowhere' does not exist or is not a folder"),
    (["--from", "2026-10-03", "--until", "2026-10-01"],
     "--from 2026-10-03 --until 2026-10-01 holds no interval of report 'toggles'"),
])
def test_try_refuses_bad_options(folder, run_cli, args, message):
    result = run_cli("try", folder, "toggles", *args)
    assert result.code == 2
    assert message in result.err


def test_names_match_whatever_their_case(make_folder, run_cli):
    folder = make_folder(CONFIG, files={
        "edits.sql": "SELECT '{from_date}' AS date, COUNT(*) AS n FROM Revision\n",
        "fx/EnWiki/REVISION.csv": "rev_id\n1\n2\n"})
    result = run_cli("try", folder, "edits", "--date", "2026-10-01", "--fixtures", folder / "fx")
    assert result.out == "date\tn\n2026-10-01\t2\n", result.err


def test_unqualified_tables_fall_back_to_the_fixture_folder(make_folder, run_cli):
    folder = make_folder(CONFIG, files={
        "edits.sql": "SELECT '{from_date}' AS date, COUNT(*) AS n FROM revision\n",
        "fx/revision.jsonl": events({"rev_id": 1})})
    result = run_cli("try", folder, "edits", "--date", "2026-10-01", "--fixtures", folder / "fx")
    assert result.out == "date\tn\n2026-10-01\t1\n", result.err


def test_a_schema_file_types_a_column(make_folder, run_cli):
    folder = make_folder(CONFIG, files={
        "edits.sql": "SELECT '{from_date}' AS date, CONCAT(code, 'x') AS c FROM revision\n",
        "fx/enwiki/revision.csv": "code\n007\n",
        "fx/enwiki/revision.schema.yaml": "columns:\n  code: varchar(10)\n"})
    result = run_cli("try", folder, "edits", "--date", "2026-10-01", "--fixtures", folder / "fx")
    assert result.out == "date\tc\n2026-10-01\t007x\n", result.err


def test_a_schema_file_naming_an_unknown_column_is_an_error(make_folder, run_cli):
    folder = make_folder(CONFIG, files={
        "edits.sql": "SELECT '{from_date}' AS date, code FROM revision\n",
        "fx/enwiki/revision.csv": "code\n007\n",
        "fx/enwiki/revision.schema.yaml": "columns:\n  kode: varchar(10)\n"})
    result = run_cli("try", folder, "edits", "--date", "2026-10-01", "--fixtures", folder / "fx")
    assert result.code == 1
    assert (f"revision.schema.yaml beside {folder / 'fx/enwiki/revision.csv'} types column(s) "
            "kode, which the fixture does not have (its columns: code)") in result.err


# -- fixtures ---------------------------------------------------------------

def test_fixtures_scaffolds_every_table_and_column(folder, run_cli, tmp_path):
    out = tmp_path / "scaffold"
    result = run_cli("fixtures", folder, "toggles", "--out", out, "--date", "2026-10-05")
    assert result.code == 0, result.err
    assert result.out == (
        "event.CodeMirrorUsage: event.editor, useragent.is_bot, day, dt, year, month\n"
        f"    wrote {out / 'event/codemirrorusage.jsonl'}\n")
    assert json.loads((out / "event/codemirrorusage.jsonl").read_text()) == {
        "event": {"editor": "example"}, "dt": "2026-10-05T00:00:00Z", "year": 2026,
        "month": 10, "day": 5, "useragent": {"is_bot": False}}
    # The scaffold runs as it is: the example row passes the query's filters.
    tried = run_cli("try", folder, "toggles", "--date", "2026-10-05", "--fixtures", out)
    assert tried.out == "date\teditor\tn\tfirst\n2026-10-05\texample\t1\t2026-10-05 00:00:00\n"


def test_fixtures_never_overwrites(folder, run_cli):
    before = (folder / "fx/enwiki/revision.tsv").read_text()
    result = run_cli("fixtures", folder, "edits", "--out", folder / "fx")
    assert result.code == 0, result.err
    assert result.out == ("revision: rev_id, rev_timestamp\n"
                          f"    exists, left as is: {folder / 'fx/enwiki/revision.tsv'}\n")
    assert (folder / "fx/enwiki/revision.tsv").read_text() == before


# -- test -----------------------------------------------------------------------

def add_case(folder, name, case, expected=None):
    path = folder / "tests" / name
    path.mkdir(parents=True)
    (path / "case.yaml").write_text(textwrap.dedent(case))
    if expected is not None:
        (path / "expected.tsv").write_text(expected)
    return path


@pytest.fixture
def cases(folder):
    (folder / "fx").rename(folder / "tests_fixtures")
    (folder / "tests").mkdir()
    (folder / "tests_fixtures").rename(folder / "tests" / "fixtures")
    add_case(folder, "toggles_two_days", """\
        report: toggles
        from: 2026-10-01
        until: 2026-10-03
        """, "date\teditor\tn\tfirst\n2026-10-02\tvisual\t1.0\t2026-10-02 08:00:00\n"
             "2026-10-01\twikitext\t2\t2026-10-01 09:30:00\n")
    add_case(folder, "edits_day", "report: edits\ndate: 2026-10-01\n",
             "date\tedits\tthird\tbig\tfirst_ts\n2026-10-01\t2\t0.6667\t1\t1790856000.000000\n")
    return folder


def test_test_passes_with_tolerance_and_any_row_order(cases, run_cli):
    result = run_cli("test", cases)
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines()[-1] == "2 passed, 0 failed, 0 error(s)"


def test_a_failing_case_prints_a_row_diff(cases, run_cli):
    (cases / "tests/edits_day/expected.tsv").write_text(
        "date\tedits\tthird\tbig\tfirst_ts\n2026-10-01\t3\t0.6667\t1\t1790856000.000000\n")
    result = run_cli("test", cases)
    assert result.code == 1
    assert "FAIL edits_day" in result.out
    assert ("    2026-10-01: 1 row(s) expected, 1 produced\n"
            "      - 2026-10-01\t3\t0.6667\t1\t1790856000.000000\n"
            "      + 2026-10-01\t2\t0.6667\t1\t1790856000.000000\n"
            "    (- expected, not produced; + produced, not expected)\n") in result.out
    assert result.out.splitlines()[-1] == "1 passed, 1 failed, 0 error(s)"


def test_ordered_cases_compare_row_order(cases, run_cli):
    add_case(cases, "ordered", "report: toggles\ndate: 2026-10-01\nordered: true\n",
             "date\teditor\tn\tfirst\n2026-10-01\twikitext\t2\t2026-10-01 09:30:00\n")
    assert run_cli("test", cases, "ordered").code == 0


def test_a_header_difference_fails(cases, run_cli):
    (cases / "tests/edits_day/expected.tsv").write_text("date\tEdits\n2026-10-01\t2\n")
    result = run_cli("test", cases, "edits_day")
    assert result.code == 1
    assert "    header differs:\n      - date\tEdits\n      + date\tedits\tthird\tbig\tfirst_ts\n" \
        in result.out


def test_junit_xml(cases, run_cli, tmp_path):
    (cases / "tests/edits_day/expected.tsv").write_text("date\tedits\n")
    result = run_cli("test", cases, "--junit", tmp_path / "junit.xml")
    assert result.code == 1
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    failed = [c.get("name") for c in suite if c.find("failure") is not None]
    assert failed == ["edits_day"]


def test_update_writes_expected_files(cases, run_cli):
    (cases / "tests/edits_day/expected.tsv").unlink()
    result = run_cli("test", cases, "--update")
    assert result.code == 0, result.out
    assert f"wrote {cases / 'tests/edits_day/expected.tsv'}" in result.out
    assert (cases / "tests/edits_day/expected.tsv").read_text() == (
        "date\tedits\tthird\tbig\tfirst_ts\n2026-10-01\t2\t0.6667\t1\t1790856000.000000\n")
    assert run_cli("test", cases).code == 0


def test_update_is_refused_when_a_case_errors(cases, run_cli):
    add_case(cases, "broken", "report: missing\ndate: 2026-10-01\n", "date\tn\n")
    (cases / "tests/edits_day/expected.tsv").unlink()
    result = run_cli("test", cases, "--update")
    assert result.code == 1
    assert "ERROR broken" in result.out
    assert "table event.nosuch has no fixture" in result.out
    assert "not updated: 1 case(s) errored" in result.err
    assert not (cases / "tests/edits_day/expected.tsv").exists()


@pytest.mark.parametrize("case, message", [
    ("report: nosuch\ndate: 2026-10-01\n", "case bad: unknown report 'nosuch'"),
    ("report: edits\n", "case.yaml: give 'date', or both 'from' and 'until'"),
    ("report: edits\ndate: someday\n", "case.yaml: 'date' must be a date (YYYY-MM-DD), "
                                       "not 'someday'"),
    ("report: edits\ndate: 2026-10-01\nexplode: {wiki: enwiki}\n",
     "case bad: report 'edits' explodes by nothing, but the case's explode gives wiki"),
    ("report: edits\ndate: 2026-10-01\norderd: true\n", "case.yaml: unknown key(s) orderd"),
])
def test_bad_cases_are_errors_that_name_the_problem(cases, run_cli, case, message):
    add_case(cases, "bad", case)
    result = run_cli("test", cases, "bad")
    assert result.code == 1
    assert "ERROR bad" in result.out
    assert message in result.out


def test_no_cases_is_a_usage_error(folder, run_cli):
    result = run_cli("test", folder)
    assert result.code == 2
    assert f"no test cases under {folder / 'tests'}" in result.err


def test_the_demo_cases_pass(run_cli, monkeypatch):
    monkeypatch.chdir(REPO)
    result = run_cli("test", "queries")
    assert result.code == 0, result.out
    assert result.out.splitlines()[-1] == "4 passed, 0 failed, 0 error(s)"
