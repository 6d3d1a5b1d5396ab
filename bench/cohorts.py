"""Cohort metrics at scale: every metric for 10,000 users over 1,000,000 revisions.

The wiki comes from tests/cohort_data.py (the generator the tests use), loaded
once into the database ``ru_bench_cohorts`` on the local MariaDB and reused
while its parameters are unchanged. The cohort is a file of all 10,000 user
IDs; each metric runs with its defaults (registration window, t = 24 h,
namespace 0), one query on the one wiki. The target: all ten metrics together
under 5 s.

The wiki replicas keep their working set in memory (buffer pools of hundreds
of GB); the shared test MariaDB has 128 MB, less than this wiki's revision
table (about 210 MB with its indexes). For its own run the benchmark raises
``innodb_buffer_pool_size`` to 1 GB (SET GLOBAL) and puts it back afterwards.
Every metric is timed twice: the first pass reads the wiki into the pool, the
second is the steady state of a replica, which the target is checked on.
"""

from __future__ import annotations

import contextlib
import json
import sys
import textwrap
import time

import pymysql

from .common import MARIADB, REPO, WORK, figure, fresh_dir

DATABASE = "ru_bench_cohorts"
PARAMS = {"seed": 2026, "users": 10_000, "revisions": 1_000_000, "version": 2}
TARGET_SECONDS = 5.0
BUFFER_POOL_BYTES = 1 << 30  # what the wiki's tables need to stay in memory


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
    from reportupdater.cohorts import METRICS
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
    with buffer_pool(BUFFER_POOL_BYTES) as (before, during):
        lines.append(f"# innodb_buffer_pool_size {before >> 20} MB, raised to "
                     f"{during >> 20} MB for this run (as replicas hold the wiki in memory)")
        passes = [_time_metrics(config, len(ids)) for _ in range(2)]
    for name in METRICS:
        lines.append(figure(f"cohort metric {name} (10,000 users, 1 query)",
                            f"{passes[1][name]:.2f} s")
                     + f"   first pass {passes[0][name]:.2f} s")
    total = sum(passes[1].values())
    lines.append(figure("every cohort metric, first pass (reads the wiki into memory)",
                        f"{sum(passes[0].values()):.2f} s"))
    lines.append(figure("every cohort metric, 10,000 users over 1,000,000 revisions",
                        f"{total:.2f} s", target=f"< {TARGET_SECONDS:g} s",
                        ok=total < TARGET_SECONDS))
    return lines


def _time_metrics(config, users: int) -> dict[str, float]:
    from reportupdater.cohorts import METRICS, measure as measure_metric, metric_params

    seconds = {}
    for name in METRICS:
        params = metric_params(name, {})
        began = time.perf_counter()
        result = measure_metric(config, "everyone", name, params)
        seconds[name] = time.perf_counter() - began
        assert len(result.users) == users and len(result.queries) == 1
    return seconds


@contextlib.contextmanager
def buffer_pool(size: int):
    """The InnoDB buffer pool at least ``size`` bytes while inside; then as it was."""
    server = pymysql.connect(**MARIADB, autocommit=True)

    def current() -> int:
        with server.cursor() as cursor:
            cursor.execute("SELECT @@innodb_buffer_pool_size")
            return int(cursor.fetchone()[0])

    def resize(target: int) -> None:
        with server.cursor() as cursor:
            cursor.execute(f"SET GLOBAL innodb_buffer_pool_size = {int(target)}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # resizing runs in the background
            with server.cursor() as cursor:
                cursor.execute("SHOW STATUS LIKE 'Innodb_buffer_pool_resize_status'")
                row = cursor.fetchone()
            if current() == target and (not row or not row[1] or "ompleted" in row[1]
                                        or "not started" in row[1].lower()):
                return
            time.sleep(0.2)

    before = current()
    try:
        if before < size:
            resize(size)
        yield before, current()
    finally:
        if current() != before:
            resize(before)
        server.close()
