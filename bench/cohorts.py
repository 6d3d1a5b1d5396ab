"""Cohort metrics at scale: every metric for 10,000 users over 1,000,000 revisions.

The wiki comes from tests/cohort_data.py (the generator the tests use), loaded
once into the database ``ru_bench_cohorts`` on the local MariaDB and reused
while its parameters are unchanged. The cohort is a file of all 10,000 user
IDs; each metric runs with its defaults (registration window, t = 24 h,
namespace 0), one query on the one wiki. The target: all ten metrics together
under 5 s.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time

import pymysql

from .common import MARIADB, REPO, WORK, figure, fresh_dir

DATABASE = "ru_bench_cohorts"
PARAMS = {"seed": 2026, "users": 10_000, "revisions": 1_000_000, "version": 1}
TARGET_SECONDS = 5.0


def _database_ready(server) -> bool:
    with server.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.tables WHERE "
                       "table_schema = %s AND table_name = 'bench_stamp'", (DATABASE,))
        if not cursor.fetchone()[0]:
            return False
        cursor.execute(f"SELECT params FROM {DATABASE}.bench_stamp")
        row = cursor.fetchone()
    return bool(row) and row[0] == json.dumps(PARAMS, sort_keys=True)


def build() -> list[int]:
    """The wiki in ``ru_bench_cohorts`` (built if missing); the cohort's user IDs."""
    sys.path.insert(0, str(REPO / "tests"))
    import cohort_data

    server = pymysql.connect(**MARIADB, autocommit=True)
    try:
        if _database_ready(server):
            with server.cursor() as cursor:
                cursor.execute(f"SELECT user_id FROM {DATABASE}.user ORDER BY user_id")
                return [row[0] for row in cursor.fetchall()]
        world = cohort_data.generate(PARAMS["seed"], PARAMS["users"], PARAMS["revisions"])
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
            cursor.execute(f"CREATE DATABASE {DATABASE}")
        server.select_db(DATABASE)
        cohort_data.load(server, world)
        with server.cursor() as cursor:
            cursor.execute("ANALYZE TABLE user, actor, page, revision, archive, logging")
            cursor.fetchall()
            cursor.execute("CREATE TABLE bench_stamp (params TEXT)")
            cursor.execute("INSERT INTO bench_stamp VALUES (%s)",
                           (json.dumps(PARAMS, sort_keys=True),))
        return [u.user_id for u in world.users]
    finally:
        server.close()


def measure() -> list[str]:
    from reportupdater.cohorts import METRICS, measure as measure_metric, metric_params
    from reportupdater.config import load_config

    started = time.monotonic()
    ids = build()
    built = time.monotonic() - started
    folder = fresh_dir(WORK / "cohorts")
    (folder / "cohort.txt").write_text("".join(f"{i}\n" for i in ids))
    (folder / "config.yaml").write_text(textwrap.dedent(f"""\
        databases:
            wiki:
                host: {MARIADB['host']}
                port: {MARIADB['port']}
                db: {DATABASE}
        cohorts:
            everyone: {{db: wiki, users: cohort.txt}}
        reports: {{}}
        """))
    config = load_config(folder)
    lines = [f"# cohorts: {len(ids):,} users, {PARAMS['revisions']:,} revisions "
             f"(wiki ready in {built:.0f} s)"]
    total = 0.0
    for name in METRICS:
        params = metric_params(name, {})
        began = time.perf_counter()
        result = measure_metric(config, "everyone", name, params)
        seconds = time.perf_counter() - began
        total += seconds
        assert len(result.users) == len(ids) and len(result.queries) == 1
        lines.append(figure(f"cohort metric {name} (10,000 users, 1 query)",
                            f"{seconds:.2f} s"))
    lines.append(figure("every cohort metric, 10,000 users over 1,000,000 revisions",
                        f"{total:.2f} s", target=f"< {TARGET_SECONDS:g} s",
                        ok=total < TARGET_SECONDS))
    return lines
