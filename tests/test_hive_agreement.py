"""Local runs agree with Hive: the same rows, the same HiveQL, the same TSV.

The rows go into tables of the real Spark Thrift server and into JSON Lines
fixtures; each query, in the style of Wikimedia's event reports, runs on the
server through ``try`` and on DuckDB through ``try --fixtures``. Hive returns
groups in any order, so the rows of each date compare as a multiset.
"""

import csv
import json

import pytest

from agreement import write_jsonl
from reportupdater.localrun.cases import compare


def event(wiki, editor, enabled, edit_count, user_id, is_bot, dt, browser="Firefox"):
    return {"wiki": wiki,
            "event": {"editor": editor, "enabled": enabled, "user_edit_count": edit_count,
                      "user_id": user_id},
            "useragent": {"is_bot": is_bot, "browser_family": browser},
            "dt": dt, "year": int(dt[:4]), "month": int(dt[5:7]), "day": int(dt[8:10])}


EVENTS = [
    event("enwiki", "wikitext", True, 3, 1, False, "2026-10-01T08:00:00Z"),
    event("enwiki", "wikitext", False, 3, 1, False, "2026-10-01T09:30:00Z"),
    event("enwiki", "wikitext_2017", True, 250, 2, False, "2026-10-01T10:15:00Z", "Chrome"),
    event("dewiki", "wikitext", True, None, 3, False, "2026-10-01T11:00:00Z"),
    event("dewiki", "wikitext", True, 40, 4, True, "2026-10-01T12:00:00Z", "Other"),
    event("eswiki", "wikitext_2017", False, 7, 5, False, "2026-10-01T23:59:59Z", "Chrome"),
    event("enwiki", "wikitext", True, 12, 6, False, "2026-10-02T00:00:00Z"),
    event("enwiki", "wikitext", True, 12, 6, False, "2026-10-02T00:05:00Z"),
    event("dewiki", "wikitext_2017", False, 1000, 7, False, "2026-10-02T13:45:00Z", "Safari"),
    event("eswiki", "wikitext", True, 2, 8, False, "2026-10-02T18:00:00Z"),
    event("enwiki", "wikitext", True, 5, 9, False, "2026-10-03T01:00:00Z"),
]
WIKIS = [{"database_code": "enwiki", "site_name": "English Wikipedia"},
         {"database_code": "dewiki", "site_name": "Deutsche Wikipedia"},
         {"database_code": "eswiki", "site_name": "Wikipedia en español"}]

FILTER = "year = {year} AND month = {month} AND day = {day}"
QUERIES = {
    "toggles_by_editor": f"""\
        SELECT '{{from_date}}' AS `date`, event.editor AS editor,
               SUM(IF(event.enabled, 1, 0)) AS enabled, COUNT(*) AS toggles,
               COUNT(DISTINCT wiki) AS wikis
        FROM event.codemirror
        WHERE {FILTER} AND NOT useragent.is_bot
        GROUP BY event.editor
        """,
    "first_state": f"""\
        WITH ranked AS (
            SELECT wiki, event.user_id AS user_id, event.enabled AS enabled,
                   row_number() OVER (PARTITION BY wiki, event.user_id ORDER BY dt) AS rn
            FROM event.codemirror
            WHERE {FILTER}
        )
        SELECT '{{from_date}}' AS `date`, wiki,
               SUM(CASE WHEN enabled THEN 1 ELSE 0 END) AS first_enabled, COUNT(*) AS users
        FROM ranked
        WHERE rn = 1
        GROUP BY wiki
        """,
    "edit_count_buckets": f"""\
        SELECT '{{from_date}}' AS `date`,
               CASE WHEN event.user_edit_count IS NULL THEN 'anonymous'
                    WHEN event.user_edit_count < 5 THEN '0-4'
                    WHEN event.user_edit_count < 100 THEN '5-99'
                    ELSE '100+' END AS bucket,
               COUNT(*) AS toggles,
               SUM(event.user_edit_count) DIV 10 AS tens,
               CAST(SUM(event.user_edit_count) AS STRING) AS total,
               SUM(event.user_edit_count) / COUNT(*) AS mean
        FROM event.codemirror
        WHERE {FILTER}
        GROUP BY 2
        """,
    "toggle_hours": f"""\
        SELECT '{{from_date}}' AS `date`, SUBSTR(dt, 12, 2) AS hour, COUNT(*) AS toggles,
               MIN(UNIX_TIMESTAMP(SUBSTR(dt, 1, 19), "yyyy-MM-dd'T'HH:mm:ss")) AS first_epoch,
               MAX(FROM_UNIXTIME(UNIX_TIMESTAMP(SUBSTR(dt, 1, 19), "yyyy-MM-dd'T'HH:mm:ss"),
                                 'yyyy-MM-dd HH:mm')) AS last_minute
        FROM event.codemirror
        WHERE {FILTER}
        GROUP BY SUBSTR(dt, 12, 2)
        """,
    "daily_browsers": f"""\
        SELECT DATE_FORMAT(TO_DATE(SUBSTR(dt, 1, 10)), 'yyyy-MM-dd') AS `date`, wiki,
               COUNT(*) AS toggles, MAX(useragent.browser_family) AS browser,
               ROUND(AVG(event.user_edit_count), 2) AS mean_edits
        FROM event.codemirror
        WHERE {FILTER}
        GROUP BY DATE_FORMAT(TO_DATE(SUBSTR(dt, 1, 10)), 'yyyy-MM-dd'), wiki
        """,
    "wiki_share": f"""\
        SELECT '{{from_date}}' AS `date`, w.site_name AS site, COUNT(*) AS toggles,
               ROUND(AVG(CAST(c.event.enabled AS INT)), 3) AS enabled_share
        FROM event.codemirror c
        JOIN canonical_data.wikis w ON w.database_code = c.wiki
        WHERE c.year = {{year}} AND c.month = {{month}} AND c.day = {{day}}
          AND c.wiki = '{{wiki}}'
        GROUP BY w.site_name
        """,
    "whole_events": f"""\
        SELECT '{{from_date}}' AS `date`, event, useragent.is_bot AS bot
        FROM event.codemirror
        WHERE {FILTER} AND wiki = 'eswiki'
        """,
}


def _literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "\\'") + "'"


def _struct(fields, types):
    return "named_struct(" + ", ".join(
        f"'{name}', CAST({_literal(fields.get(name))} AS {sql_type})"
        for name, sql_type in types) + ")"


EVENT_TYPES = [("editor", "STRING"), ("enabled", "BOOLEAN"), ("user_edit_count", "INT"),
               ("user_id", "BIGINT")]
AGENT_TYPES = [("is_bot", "BOOLEAN"), ("browser_family", "STRING")]


@pytest.fixture(scope="module")
def hive_tables(hive_server):
    hive_server.execute("CREATE DATABASE IF NOT EXISTS event")
    hive_server.execute("CREATE DATABASE IF NOT EXISTS canonical_data")
    hive_server.execute("DROP TABLE IF EXISTS event.codemirror")
    hive_server.execute(
        "CREATE TABLE event.codemirror (wiki STRING, event STRUCT<editor:STRING, "
        "enabled:BOOLEAN, user_edit_count:INT, user_id:BIGINT>, useragent STRUCT<"
        "is_bot:BOOLEAN, browser_family:STRING>, dt STRING, year INT, month INT, day INT) "
        "STORED AS PARQUET")
    hive_server.execute("INSERT INTO event.codemirror VALUES " + ", ".join(
        f"({_literal(e['wiki'])}, {_struct(e['event'], EVENT_TYPES)}, "
        f"{_struct(e['useragent'], AGENT_TYPES)}, {_literal(e['dt'])}, {e['year']}, "
        f"{e['month']}, {e['day']})" for e in EVENTS))
    hive_server.execute("DROP TABLE IF EXISTS canonical_data.wikis")
    hive_server.execute("CREATE TABLE canonical_data.wikis (database_code STRING, "
                        "site_name STRING) STORED AS PARQUET")
    hive_server.execute("INSERT INTO canonical_data.wikis VALUES " + ", ".join(
        f"({_literal(w['database_code'])}, {_literal(w['site_name'])})" for w in WIKIS))
    return hive_server


@pytest.fixture
def hive_folder(make_folder, hive_tables, tmp_path):
    fixtures = tmp_path / "fixtures"
    write_jsonl(fixtures / "event" / "CodeMirror.jsonl", EVENTS)
    write_jsonl(fixtures / "canonical_data" / "wikis.jsonl", WIKIS)
    reports = "".join(f"            {name}: {{}}\n" for name in QUERIES if name != "wiki_share")
    folder = make_folder(f"""
        hive:
            backend: hiveserver2
            host: {hive_tables.host}
            port: {hive_tables.port}
            username: ci
            configuration:
                spark.sql.shuffle.partitions: 2
        defaults:
            type: hive
            granularity: days
            starts: 2026-10-01
        reports:
{reports}
            wiki_share:
                explode_by:
                    wiki: enwiki, dewiki, eswiki
        """, files={f"{name}.hql": text for name, text in QUERIES.items()})
    return folder, fixtures


def both(run_cli, folder, fixtures, report, *args):
    span = ("--from", "2026-10-01", "--until", "2026-10-03")
    real = run_cli("try", folder, report, *span, *args)
    assert real.code == 0, real.err
    local = run_cli("try", folder, report, *span, "--fixtures", fixtures, *args)
    assert local.code == 0, local.err
    return real.out, local.out


@pytest.mark.parametrize("report", [q for q in QUERIES if q != "wiki_share"])
def test_hive_and_duckdb_agree(hive_folder, run_cli, report):
    real, local = both(run_cli, *hive_folder, report)
    assert len(real.splitlines()) > 2, real  # rows on both days
    assert compare(real, local) == "", f"hive:\n{real}\nlocal:\n{local}"
    assert sorted(local.splitlines()) == sorted(real.splitlines())  # the very same text


@pytest.mark.parametrize("wiki", ["enwiki", "dewiki", "eswiki"])
def test_hive_and_duckdb_agree_on_exploded_reports(hive_folder, run_cli, wiki):
    real, local = both(run_cli, *hive_folder, "wiki_share", "--explode", f"wiki={wiki}")
    assert sorted(local.splitlines()) == sorted(real.splitlines()), f"{real}\n{local}"


def test_structs_are_compact_json_as_hive_prints_them(hive_folder, run_cli):
    real, local = both(run_cli, *hive_folder, "whole_events")
    assert real == local
    row = next(csv.reader(local.splitlines()[1:], delimiter="\t"))
    assert json.loads(row[1]) == {"editor": "wikitext_2017", "enabled": False,
                                  "user_edit_count": 7, "user_id": 5}
    assert " " not in row[1]


def test_known_difference_casting_a_fraction_to_int(hive_folder, run_cli):
    """docs/developing.md: Hive truncates a fraction cast to INT; DuckDB rounds it."""
    folder, fixtures = hive_folder
    (folder / "whole_events.hql").write_text(
        "SELECT '{from_date}' AS `date`, CAST(2.5 AS INT) AS cast, FLOOR(2.5) AS floor "
        "FROM canonical_data.wikis WHERE database_code = 'enwiki'\n")
    real, local = both(run_cli, folder, fixtures, "whole_events")
    assert real.splitlines()[1] == "2026-10-01\t2\t2"
    assert local.splitlines()[1] == "2026-10-01\t3\t2"
