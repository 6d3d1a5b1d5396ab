"""Local runs agree with MariaDB: the same rows, the same queries, the same TSV.

Each query, in the style of Wikimedia's MediaWiki reports, runs on the real
MariaDB through ``try`` and on fixture files through ``try --fixtures``.
"""

import pytest

from agreement import compare_runs, write_jsonl

REVISIONS = [
    # rev_id, rev_page, rev_actor, rev_timestamp, rev_len, rev_minor_edit
    (1, 10, 100, "20261001083000", 120, 0),
    (2, 10, 101, "20261001091500", 40, 1),
    (3, 11, 100, "20261001120000", 3000, 0),
    (4, 12, 102, "20261001235959", 75, 1),
    (5, 11, 101, "20261002000000", 510, 0),
    (6, 12, 103, "20261002103000", 99, 0),
    (7, 10, 103, "20261002113000", 100, 1),
    (8, 13, 100, "20261003010000", 10, 0),
]
ACTORS = [(100, "Alice"), (101, "HelperBot"), (102, "Carol"), (103, "ArchiveBot")]
PAGES = [(10, 0, "Main_Page"), (11, 0, "Syntax"), (12, 1, "Syntax"), (13, 4, "Sandbox")]

QUERIES = {
    "daily_edits": """\
        SELECT DATE_FORMAT(STR_TO_DATE(rev_timestamp, '%Y%m%d%H%i%s'), '%Y-%m-%d') AS date,
               COUNT(*) AS edits,
               COUNT(DISTINCT rev_actor) AS editors,
               SUM(rev_minor_edit) AS minor
        FROM revision
        WHERE rev_timestamp >= '{from_timestamp}' AND rev_timestamp < '{to_timestamp}'
        GROUP BY 1
        """,
    "first_edits": """\
        WITH ranked AS (
            SELECT rev_actor, rev_len,
                   ROW_NUMBER() OVER (PARTITION BY rev_actor ORDER BY rev_timestamp) AS n
            FROM revision
            WHERE rev_timestamp >= '{from_timestamp}' AND rev_timestamp < '{to_timestamp}'
        )
        SELECT '{from_date}' AS date, COUNT(*) AS first_edits, SUM(rev_len) AS first_bytes,
               MAX(rev_len) DIV 100 AS hundreds
        FROM ranked
        WHERE n = 1
        """,
    "edits_by_kind": """\
        SELECT '{from_date}' AS date,
               IF(a.actor_name LIKE '%Bot', 'bot', 'human') AS kind,
               CASE WHEN r.rev_len < 100 THEN 'small' WHEN r.rev_len < 1000 THEN 'medium'
                    ELSE 'large' END AS size,
               COUNT(*) AS edits
        FROM revision r
        JOIN actor a ON a.actor_id = r.rev_actor
        WHERE r.rev_timestamp >= '{from_timestamp}' AND r.rev_timestamp < '{to_timestamp}'
        GROUP BY 2, 3
        """,
    "sizes": """\
        SELECT '{from_date}' AS date,
               SUM(rev_len) DIV COUNT(*) AS mean_floor,
               SUM(rev_len) / COUNT(*) AS mean,
               AVG(rev_len) AS avg_len,
               CAST(SUM(rev_len) AS CHAR) AS total_text,
               CAST(MIN(LEFT(rev_timestamp, 4)) AS UNSIGNED) AS year,
               MAX(rev_minor_edit = 1) AS any_minor
        FROM revision
        WHERE rev_timestamp >= '{from_timestamp}' AND rev_timestamp < '{to_timestamp}'
        """,
    "edit_times": """\
        SELECT '{from_date}' AS date,
               MIN(UNIX_TIMESTAMP(rev_timestamp)) AS first_epoch,
               FROM_UNIXTIME(MAX(UNIX_TIMESTAMP(rev_timestamp))) AS last_edit,
               (MAX(UNIX_TIMESTAMP(rev_timestamp)) - MIN(UNIX_TIMESTAMP(rev_timestamp)))
                   DIV 3600 AS span_hours,
               SUBSTR(MAX(rev_timestamp), 9, 2) AS last_hour
        FROM revision
        WHERE rev_timestamp >= '{from_timestamp}' AND rev_timestamp < '{to_timestamp}'
        """,
    "edits_by_namespace": """\
        SELECT '{from_date}' AS date, COUNT(*) AS edits, COUNT(DISTINCT p.page_id) AS pages,
               MAX(p.page_title) AS last_title
        FROM revision r
        JOIN page p ON p.page_id = r.rev_page
        WHERE p.page_namespace = {ns}
          AND r.rev_timestamp >= '{from_timestamp}' AND r.rev_timestamp < '{to_timestamp}'
        """,
}


@pytest.fixture
def mariadb_folder(make_folder, mysql_db, tmp_path):
    mysql_db.execute("CREATE TABLE revision (rev_id INT UNSIGNED PRIMARY KEY, rev_page INT "
                     "UNSIGNED, rev_actor BIGINT UNSIGNED, rev_timestamp VARBINARY(14), "
                     "rev_len INT UNSIGNED, rev_minor_edit TINYINT UNSIGNED)")
    mysql_db.execute("CREATE TABLE actor (actor_id BIGINT UNSIGNED PRIMARY KEY, "
                     "actor_name VARBINARY(255))")
    mysql_db.execute("CREATE TABLE page (page_id INT UNSIGNED PRIMARY KEY, page_namespace INT, "
                     "page_title VARBINARY(255))")
    mysql_db.executemany("INSERT INTO revision VALUES (%s, %s, %s, %s, %s, %s)", REVISIONS)
    mysql_db.executemany("INSERT INTO actor VALUES (%s, %s)", ACTORS)
    mysql_db.executemany("INSERT INTO page VALUES (%s, %s, %s)", PAGES)
    fixtures = tmp_path / "fixtures"  # unqualified tables: found in DIR/ itself
    write_jsonl(fixtures / "revision.jsonl", [dict(zip(
        ("rev_id", "rev_page", "rev_actor", "rev_timestamp", "rev_len", "rev_minor_edit"), r))
        for r in REVISIONS])
    write_jsonl(fixtures / "actor.jsonl", [dict(actor_id=a, actor_name=n) for a, n in ACTORS])
    write_jsonl(fixtures / "page.jsonl", [dict(page_id=i, page_namespace=ns, page_title=t)
                                          for i, ns, t in PAGES])
    reports = "".join(f"            {name}: {{}}\n" for name in QUERIES if name != "edits_by_namespace")
    folder = make_folder(f"""
        databases:
            wiki:
                host: {mysql_db.host}
                port: {mysql_db.port}
                db: {mysql_db.name}
                creds_file: {mysql_db.creds}
        defaults:
            db: wiki
            granularity: days
            starts: 2026-10-01
        reports:
{reports}
            edits_by_namespace:
                explode_by:
                    ns: 0, 1
        """, files={f"{name}.sql": text for name, text in QUERIES.items()})
    return folder, fixtures


@pytest.mark.parametrize("report", [q for q in QUERIES if q != "edits_by_namespace"])
def test_mariadb_and_duckdb_agree(mariadb_folder, run_cli, report):
    folder, fixtures = mariadb_folder
    compare_runs(run_cli, folder, fixtures, report)


@pytest.mark.parametrize("ns", ["0", "1"])
def test_mariadb_and_duckdb_agree_on_exploded_reports(mariadb_folder, run_cli, ns):
    folder, fixtures = mariadb_folder
    compare_runs(run_cli, folder, fixtures, "edits_by_namespace", "--explode", f"ns={ns}")


def test_the_results_are_what_mariadb_gives(mariadb_folder, run_cli):
    folder, fixtures = mariadb_folder
    assert compare_runs(run_cli, folder, fixtures, "sizes") == (
        "date\tmean_floor\tmean\tavg_len\ttotal_text\tyear\tany_minor\n"
        "2026-10-01\t808\t808.7500\t808.7500\t3235\t2026\t1\n"
        "2026-10-02\t236\t236.3333\t236.3333\t709\t2026\t1\n")


def test_known_difference_text_comparison_ignores_case_only_in_mariadb(
        make_folder, mysql_db, tmp_path, run_cli):
    """docs/developing.md: MariaDB's default collation ignores case; DuckDB does not."""
    mysql_db.execute("CREATE TABLE user (user_name VARCHAR(255))")
    mysql_db.execute("INSERT INTO user VALUES ('Alice')")
    write_jsonl(tmp_path / "fixtures" / "user.jsonl", [{"user_name": "Alice"}])
    folder = make_folder(f"""
        databases:
            wiki: {{host: {mysql_db.host}, port: {mysql_db.port}, db: {mysql_db.name},
                    creds_file: {mysql_db.creds}}}
        reports:
            r: {{db: wiki, granularity: days, starts: 2026-10-01}}
        """, files={"r.sql": "SELECT '{from_date}' AS date, COUNT(*) AS n FROM user "
                             "WHERE user_name = 'alice'\n"})
    real = run_cli("try", folder, "r", "--date", "2026-10-01")
    local = run_cli("try", folder, "r", "--date", "2026-10-01", "--fixtures", tmp_path / "fixtures")
    assert (real.out, local.out) == ("date\tn\n2026-10-01\t1\n", "date\tn\n2026-10-01\t0\n")
