"""The ``hive_server`` fixture runs a real HiveServer2 that pyhive and beeline can query."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from datetime import datetime, timedelta

import pytest
from servers.hive import create_event_table

TABLE = "event_editattempt"
DAYS = 5
ROWS_PER_DAY = 14
WIKIS = ("enwiki", "dewiki", "frwiki")
ACTIONS = ("init", "ready", "saveSuccess")


def _rows() -> list[dict]:
    start = datetime(2024, 2, 27)  # spans a month boundary (leap day included)
    rows = []
    for day in range(DAYS):
        for i in range(ROWS_PER_DAY - day):  # a distinct count per day
            ts = start + timedelta(days=day, minutes=37 * i)
            rows.append({
                "wiki": WIKIS[i % len(WIKIS)],
                "event": {
                    "action": ACTIONS[i % len(ACTIONS)],
                    "editor": "visualeditor" if i % 2 else "wikitext",
                    "enabled": i % 4 != 0,
                    "user_edit_count_bucket": None if i == 5 else "1-4 edits",
                },
                "dt": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "year": ts.strftime("%Y"),
                "month": ts.strftime("%m"),
                "day": ts.strftime("%d"),
            })
    return rows


@pytest.fixture(scope="module")
def event_rows(hive_server):
    rows = _rows()
    create_event_table(hive_server, TABLE, rows)  # 60 rows, 5 partitions: 1 to 3.5 s
    return rows


def test_counts_by_day(hive_server, event_rows):
    got = hive_server.execute(
        f"SELECT CONCAT(year, '-', month, '-', day) AS `date`, COUNT(*) AS n "
        f"FROM {TABLE} GROUP BY year, month, day ORDER BY `date`"
    )
    expected = Counter(f"{r['year']}-{r['month']}-{r['day']}" for r in event_rows)
    assert got == sorted(expected.items())
    assert [d for d, _ in got] == ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"]


def test_struct_fields_and_value_types(hive_server, event_rows):
    got = hive_server.execute(
        f"SELECT event.action, COUNT(*) FROM {TABLE} "
        "WHERE event.enabled AND year = '2024' AND month = '02' "
        "GROUP BY event.action ORDER BY event.action"
    )
    expected = Counter(
        r["event"]["action"] for r in event_rows if r["event"]["enabled"] and r["month"] == "02"
    )
    assert got == sorted(expected.items())
    assert all(type(n) is int for _, n in got)  # COUNT(*) is BIGINT

    [(event, enabled)] = hive_server.execute(
        f"SELECT event, event.enabled FROM {TABLE} WHERE dt = '{event_rows[5]['dt']}'"
    )
    # Whole STRUCTs arrive as JSON text; a NULL field is a JSON null.
    assert json.loads(event) == event_rows[5]["event"]
    assert enabled is True


def test_beeline_prints_clean_tsv(hive_server, event_rows):
    sql = (
        f"SELECT day, COUNT(*) AS n FROM {TABLE} "
        "WHERE year = '2024' AND month = '03' GROUP BY day ORDER BY day"
    )
    result = subprocess.run(
        hive_server.beeline_command(sql),
        env=hive_server.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # Observed: stdout holds only the header and the rows, tab-separated, each
    # line ending in "\n"; NULL prints as "NULL", STRUCT/MAP as JSON, BOOLEAN as
    # true/false. stderr holds just the JVM's "WARNING: Using incubator modules:
    # jdk.incubator.vector" (plus the error and its Java stack trace on failure,
    # exit code 1). Without --allowMultiLineCommand=false, SQL not ending in ";"
    # makes beeline print "0: jdbc:hive2://127.0.0.1:<port>/default> " on stdout
    # right before the header, on the same line.
    expected = Counter(r["day"] for r in event_rows if r["month"] == "03")
    assert result.stdout.splitlines() == ["day\tn"] + [
        f"{day}\t{n}" for day, n in sorted(expected.items())
    ]
    noise = [line for line in result.stderr.splitlines() if "incubator" not in line]
    assert noise == []
