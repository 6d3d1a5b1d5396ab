"""Backfill: 8,261 cheap indexed MariaDB queries, ours against the floor.

About 1M events over 750 days in 10 wikis go into the local MariaDB
(database ``ru_bench``, indexes on (wiki, ts) and (ts)). Two reports: one
exploded by wiki (10 x 751 days) and one GROUP BY wiki (751 days), 8,261
queries in all. The *floor* is the same rendered queries run back to back on
one pymysql connection, measured in the same run (before and after ours; the
faster is kept, so the ratio is the stricter one). Ours is the real command
in a subprocess, process start included, on a fresh output folder.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import random
import textwrap
import time
from pathlib import Path

import pymysql

from reportupdater.config import load_config
from reportupdater.planning import selected_reports
from reportupdater.schedule import missing_intervals
from reportupdater.templates import render
from reportupdater.triage import Coverage

from .common import MARIADB, WORK, figure, fresh_dir, run_measured

DATABASE = "ru_bench"
WIKIS = [f"{name}wiki" for name in ("en", "de", "fr", "es", "ja", "ru", "it", "zh", "pt",
                                    "pl")]
EVENTS = 1_000_000
DAYS = 750
FIRST = dt.datetime(2024, 10, 1)
NOW = FIRST + dt.timedelta(days=DAYS + 1)  # 751 daily intervals
VERSION = 1


def build_database() -> None:
    """Load the events once; later runs reuse them if the marker matches."""
    connection = pymysql.connect(**MARIADB, autocommit=True, local_infile=True)
    marker = f"{VERSION}:{EVENTS}:{DAYS}:{len(WIKIS)}:{FIRST:%Y%m%d}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        cursor.execute(f"USE {DATABASE}")
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_marker (marker VARCHAR(100))")
        cursor.execute("SELECT marker FROM bench_marker")
        if cursor.fetchall() == ((marker,),):
            return
        print(f"loading {EVENTS:,} events into {DATABASE} (once)...", flush=True)
        cursor.execute("DROP TABLE IF EXISTS events")
        cursor.execute("""
            CREATE TABLE events (
                id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
                wiki VARBINARY(32) NOT NULL,
                ts BINARY(14) NOT NULL,
                user_id INT UNSIGNED NOT NULL,
                action VARBINARY(16) NOT NULL
            ) ENGINE=InnoDB""")
        rng = random.Random(5)
        seconds = DAYS * 86400
        actions = [b"enable", b"disable", b"save"]
        batch = []
        for _ in range(EVENTS):
            moment = FIRST + dt.timedelta(seconds=rng.randrange(seconds))
            # Big wikis get more events, as in real life.
            wiki = WIKIS[min(int(rng.expovariate(0.35)), len(WIKIS) - 1)]
            batch.append((wiki, moment.strftime("%Y%m%d%H%M%S"), rng.randrange(50_000),
                          rng.choice(actions)))
            if len(batch) == 20_000:
                cursor.executemany("INSERT INTO events (wiki, ts, user_id, action) "
                                   "VALUES (%s, %s, %s, %s)", batch)
                batch = []
        if batch:
            cursor.executemany("INSERT INTO events (wiki, ts, user_id, action) "
                               "VALUES (%s, %s, %s, %s)", batch)
        cursor.execute("CREATE INDEX events_wiki_ts ON events (wiki, ts)")
        cursor.execute("CREATE INDEX events_ts ON events (ts)")
        cursor.execute("ANALYZE TABLE events")
        cursor.fetchall()
        cursor.execute("DELETE FROM bench_marker")
        cursor.execute("INSERT INTO bench_marker VALUES (%s)", (marker,))
    connection.close()


def build_folder(folder: Path = WORK / "backfill") -> Path:
    queries = fresh_dir(folder) / "queries"
    queries.mkdir()
    (queries / "my.cnf").write_text(f"[client]\nuser = {MARIADB['user']}\npassword =\n")
    (queries / "config.yaml").write_text(textwrap.dedent(f"""\
        databases:
            bench:
                host: {MARIADB['host']}
                port: {MARIADB['port']}
                db: {DATABASE}
                creds_file: {queries / 'my.cnf'}
        defaults:
            db: bench
            granularity: days
            starts: {FIRST:%Y-%m-%d}
        reports:
            events_by_wiki:
                explode_by: {{wiki: "{', '.join(WIKIS)}"}}
            events_per_wiki:
                description: one GROUP BY query per day
        """))
    (queries / "events_by_wiki.sql").write_text(textwrap.dedent("""\
        SELECT DATE('{from_date}') AS date,
               COUNT(*) AS events,
               COUNT(DISTINCT user_id) AS users,
               SUM(action = 'save') AS saves
        FROM events
        WHERE wiki = '{wiki}'
          AND ts >= '{from_timestamp}' AND ts < '{to_timestamp}'
        """))
    (queries / "events_per_wiki.sql").write_text(textwrap.dedent("""\
        SELECT DATE('{from_date}') AS date, wiki, COUNT(*) AS events
        FROM events
        WHERE ts >= '{from_timestamp}' AND ts < '{to_timestamp}'
        GROUP BY wiki
        ORDER BY wiki
        """))
    return queries


def rendered_queries(queries: Path) -> list[str]:
    """Every query a first run executes, rendered by the tool's own templates."""
    config = load_config(queries)
    if config.problems:
        raise SystemExit("the bench config has problems:\n" + "\n".join(map(str, config.problems)))
    texts = []
    for report in selected_reports(config, ()):
        for explode in report.explode_combinations():
            for interval in missing_intervals(report, NOW, Coverage(report.granularity)):
                texts.append(render(report, interval, explode))
    return texts


def floor_seconds(texts: list[str]) -> float:
    connection = pymysql.connect(**MARIADB, database=DATABASE, autocommit=True,
                                 charset="utf8mb4")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for text in texts:
            cursor.execute(text)
            cursor.fetchall()
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def ours(queries: Path, output: Path, *extra: str):
    fresh_dir(output)
    run = run_measured(["run", str(queries), str(output), "--now", f"{NOW:%Y-%m-%d}",
                        "--no-graphite", *extra])
    if run.returncode != 0 or f"{len(WIKIS) * 751 + 751} interval(s) executed" not in run.stderr:
        raise SystemExit(f"the backfill run failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return run


def same_files(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in a.rglob("*.tsv"))
    if files != sorted(p.relative_to(b) for p in b.rglob("*.tsv")):
        return False
    return all(filecmp.cmp(a / f, b / f, shallow=False) for f in files)


def measure(rounds: int = 3) -> list[str]:
    """Floor, ours with default jobs, ours with --jobs 1: interleaved, best of ``rounds``.

    The machine may be busy with other work; interleaving exposes every
    variant to the same noise, and the best of each is the least disturbed.
    """
    build_database()
    queries = build_folder()
    texts = rendered_queries(queries)
    assert len(texts) == 8261, len(texts)
    floor_seconds(texts[:500])  # warm the buffer pool
    floors, parallel, serial = [], [], []
    for _ in range(rounds):
        floors.append(floor_seconds(texts))
        parallel.append(ours(queries, queries.parent / "out-default").seconds)
        serial.append(ours(queries, queries.parent / "out-jobs1", "--jobs", "1").seconds)
    if not same_files(queries.parent / "out-default", queries.parent / "out-jobs1"):
        raise SystemExit("the default-jobs and --jobs 1 outputs differ")
    floor, best_parallel, best_serial = min(floors), min(parallel), min(serial)
    return [
        figure(f"backfill floor: {len(texts):,} queries, 1 pymysql connection",
               f"{floor:.2f} s"),
        figure("backfill, ours with default jobs (4)", f"{best_parallel:.2f} s",
               best_parallel / floor, "floor", "<= 1.0 x", best_parallel <= floor),
        figure("backfill, ours with --jobs 1", f"{best_serial:.2f} s",
               best_serial / floor, "floor", "<= 1.3 x", best_serial <= 1.3 * floor),
    ]
