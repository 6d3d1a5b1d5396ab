"""End to end on the real MariaDB: an original-style query folder, run unchanged.

Also: deadlines against a private server frozen with SIGSTOP, one statement per
query, and shards found through DNS SRV records served by a real dnsmasq.
"""

import datetime as dt
import secrets
import subprocess
import sys
import threading
import time

import pytest
from servers.dns import DOMAIN

from conftest import REPO, read_tsv
from reportupdater.config import load_config
from reportupdater.engines import EnginePool, Query
from reportupdater.errors import ExecutionError
from reportupdater.intervals import Granularity, Interval

NOW = "2026-11-06T12:00:00"


@pytest.fixture
def edits(mysql_db):
    """A MediaWiki-like table: binary timestamps, as on the replicas."""
    mysql_db.execute("CREATE TABLE revision (rev_id INT PRIMARY KEY AUTO_INCREMENT, "
                     "wiki VARBINARY(32), rev_timestamp VARBINARY(14), editor VARBINARY(32), "
                     "INDEX (rev_timestamp))")
    rows = []
    for day in range(1, 6):
        for wiki, count in (("enwiki", day), ("dewiki", 10 + day)):
            for i in range(count):
                editor = "visualeditor" if i % 2 else "wikitext"
                rows.append((wiki, f"202611{day:02d}{i:02d}0000", editor))
    mysql_db.executemany("INSERT INTO revision (wiki, rev_timestamp, editor) VALUES "
                         "(%s, %s, %s)", rows)
    return mysql_db


def original_style_folder(make_folder, db, extra_reports=""):
    """A config written as the original reportupdater's documentation shows it."""
    return make_folder(f"""
        databases:
            el_db:
                host: {db.host}
                port: {db.port}
                creds_file: {db.creds}
                db: {db.name}
        defaults:
            db: el_db
        reports:
            daily_edits:
                granularity: days
                starts: 2026-11-01
                explode_by:
                    wiki: wikis.txt
            daily_edits_by_editor:
                granularity: days
                lag: 3600
                starts: 2026-11-01
                funnel: true
            weekly_edits:
                granularity: weeks
                starts: 2026-10-25
                execute: daily_edits_all
        {extra_reports}
        """, files={
        "wikis.txt": "enwiki\ndewiki\n",
        "daily_edits.sql": """
            SELECT DATE('{from_timestamp}') AS date, COUNT(*) AS edits
            FROM revision
            WHERE wiki = '{wiki}'
              AND rev_timestamp >= '{from_timestamp}' AND rev_timestamp < '{to_timestamp}'
            """,
        "daily_edits_by_editor.sql": """
            SELECT DATE(rev_timestamp) AS date, editor, COUNT(*) AS edits
            FROM revision
            WHERE rev_timestamp >= '{from_timestamp}' AND rev_timestamp < '{to_timestamp}'
            GROUP BY date, editor
            ORDER BY editor
            """,
        "daily_edits_all.sql": """
            SELECT DATE('{from_timestamp}') AS date, COUNT(*) AS edits,
                   SUM(wiki = 'enwiki') AS enwiki
            FROM revision
            WHERE rev_timestamp >= '{from_timestamp}' AND rev_timestamp < '{to_timestamp}'
            """,
    })


def test_original_style_folder_fills_every_missing_interval(make_folder, edits, tmp_path,
                                                            run_cli):
    folder = original_style_folder(make_folder, edits)
    out = tmp_path / "output"
    result = run_cli(folder, out, "--now", NOW)  # the original's positional form
    assert result.code == 0, result.err
    assert "funnel is deprecated" in result.err

    assert read_tsv(out / "daily_edits" / "enwiki.tsv") == [
        ["date", "edits"], ["2026-11-01", "1"], ["2026-11-02", "2"], ["2026-11-03", "3"],
        ["2026-11-04", "4"], ["2026-11-05", "5"]]
    assert read_tsv(out / "daily_edits" / "dewiki.tsv")[1:] == [
        [f"2026-11-0{d}", str(10 + d)] for d in range(1, 6)]
    by_editor = read_tsv(out / "daily_edits_by_editor.tsv")
    assert by_editor[0] == ["date", "editor", "edits"]
    assert by_editor[1:3] == [["2026-11-01", "visualeditor", "5"],
                              ["2026-11-01", "wikitext", "7"]]
    assert len(by_editor) == 1 + 2 * 5
    # Weeks start on Sunday: the week of 2026-11-01 is not over on Friday the 6th.
    assert read_tsv(out / "weekly_edits.tsv") == [
        ["date", "edits", "enwiki"], ["2026-10-25", "0", ""]]
    result = run_cli(folder, out, "--now", "2026-11-08", "-r", "weekly_edits")
    assert result.code == 0, result.err
    assert read_tsv(out / "weekly_edits.tsv")[2:] == [["2026-11-01", "80", "15"]]


def test_a_second_run_executes_nothing(make_folder, edits, tmp_path, run_cli):
    folder = original_style_folder(make_folder, edits)
    out = tmp_path / "output"
    assert run_cli("run", folder, out, "--now", NOW).code == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.tsv")}
    result = run_cli("run", folder, out, "--now", NOW)
    assert result.code == 0
    assert "0 interval(s) executed" in result.err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.tsv")} == before


def test_rerun_replaces_exactly_the_requested_dates(make_folder, edits, tmp_path, run_cli):
    folder = original_style_folder(make_folder, edits)
    out = tmp_path / "output"
    assert run_cli("run", folder, out, "--now", NOW).code == 0
    # The source data changes for every day; only the rerun dates may change.
    edits.execute("INSERT INTO revision (wiki, rev_timestamp, editor) SELECT wiki, "
                  "rev_timestamp, editor FROM revision")
    result = run_cli("rerun", folder, "2026-11-02", "2026-11-04", "-r", "daily_edits",
                     "--now", NOW)
    assert result.code == 0, result.err
    requests = list((folder / ".reruns").iterdir())
    assert [r.read_text() for r in requests] == ["2026-11-02\n2026-11-04\ndaily_edits\n"]

    assert run_cli("run", folder, out, "--now", NOW).code == 0
    assert read_tsv(out / "daily_edits" / "enwiki.tsv")[1:] == [
        ["2026-11-01", "1"], ["2026-11-02", "4"], ["2026-11-03", "6"], ["2026-11-04", "4"],
        ["2026-11-05", "5"]]
    assert read_tsv(out / "daily_edits" / "dewiki.tsv")[2:4] == [
        ["2026-11-02", "24"], ["2026-11-03", "26"]]
    assert read_tsv(out / "daily_edits_by_editor.tsv")[1] == ["2026-11-01", "visualeditor", "5"]
    assert list((folder / ".reruns").iterdir()) == []


def test_a_failed_query_writes_nothing_and_is_retried(make_folder, edits, tmp_path, run_cli):
    folder = original_style_folder(make_folder, edits)
    (folder / "daily_edits_all.sql").write_text(
        "SELECT DATE('{from_timestamp}') AS date, COUNT(*) AS edits FROM no_such_table")
    out = tmp_path / "output"
    result = run_cli("run", folder, out, "--now", NOW)
    assert result.code == 1
    assert ("report 'weekly_edits' interval 2026-10-25..2026-11-01: query failed on database "
            f"'{edits.name}'") in result.err
    assert "no_such_table" in result.err
    assert not (out / "weekly_edits.tsv").exists()
    assert (out / "daily_edits" / "enwiki.tsv").exists()  # the others still ran

    (folder / "daily_edits_all.sql").write_text(
        "SELECT DATE('{from_timestamp}') AS date, COUNT(*) AS edits FROM revision "
        "WHERE rev_timestamp >= '{from_timestamp}' AND rev_timestamp < '{to_timestamp}'")
    result = run_cli("run", folder, out, "--now", NOW)
    assert result.code == 0
    assert "1 interval(s) executed" in result.err
    assert read_tsv(out / "weekly_edits.tsv")[1:] == [["2026-10-25", "0"]]


def test_passwords_never_reach_the_log(make_folder, mysql_db, tmp_path, run_cli):
    creds = tmp_path / "wrong.cnf"
    creds.write_text("[client]\nuser = nobody_here\npassword = s3cret-Pa55\n")
    folder = make_folder(f"""
        databases:
            db: {{host: {mysql_db.host}, port: {mysql_db.port}, creds_file: {creds},
                 db: {mysql_db.name}}}
        reports:
            r: {{granularity: days, starts: 2026-11-01, db: db}}
        """, files={"r.sql": "SELECT DATE('{from_timestamp}') AS date, 1 AS n"})
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02")
    assert result.code == 1
    assert "cannot connect to database 'db'" in result.err
    assert "s3cret-Pa55" not in result.err


def test_a_timeout_kills_the_query(make_folder, mysql_db, tmp_path, run_cli):
    folder = make_folder(f"""
        databases:
            db: {{host: {mysql_db.host}, port: {mysql_db.port}, creds_file: {mysql_db.creds},
                 db: {mysql_db.name}}}
        reports:
            slow: {{granularity: days, starts: 2026-11-01, db: db, timeout: 1}}
        """, files={"slow.sql": "SELECT DATE('{from_timestamp}') AS date, SLEEP(30) AS n"})
    started = dt.datetime.now()
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02")
    assert result.code == 1
    assert "timed out after 1 s" in result.err
    assert (dt.datetime.now() - started).total_seconds() < 20
    assert not (tmp_path / "out" / "slow.tsv").exists()


def test_auto_find_db_shard_uses_the_dblists_and_the_shards_map(make_folder, mariadb_server,
                                                                 tmp_path, run_cli):
    names = []
    for wiki in ("aawiki", "bbwiki"):
        name = f"ru_shard_{wiki}_{tmp_path.name[-6:]}".replace("-", "_")
        names.append(name)
        with mariadb_server.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
            cursor.execute(f"CREATE TABLE {name}.page (id INT)")
            cursor.execute(f"INSERT INTO {name}.page VALUES " +
                           ",".join(["(1)"] * (3 if wiki == "aawiki" else 7)))
    try:
        mw = tmp_path / "mediawiki-config" / "dblists"
        mw.mkdir(parents=True)
        (mw / "s1.dblist").write_text(names[0] + "\n")
        (mw / "s3.dblist").write_text("# a comment\n" + names[1] + "\n")
        creds = tmp_path / "my.cnf"
        creds.write_text("[client]\nuser = root\npassword =\n")
        folder = make_folder(f"""
            databases:
                mw:
                    auto_find_db_shard: true
                    wiki_db_placeholder: wiki_db
                    mw_config_path: {tmp_path / 'mediawiki-config'}
                    creds_file: {creds}
                    shards:
                        s1: {{host: 127.0.0.1, port: 3306}}
                        s3: {{host: 127.0.0.1, port: 3306}}
            reports:
                pages:
                    db: mw
                    granularity: days
                    starts: 2026-11-01
                    explode_by: {{wiki_db: "{names[0]}, {names[1]}"}}
            """, files={"pages.sql": "SELECT DATE('{from_timestamp}') AS date, "
                                     "DATABASE() AS db, COUNT(*) AS pages FROM page"})
        out = tmp_path / "out"
        result = run_cli("run", folder, out, "--now", "2026-11-03")
        assert result.code == 0, result.err
        assert read_tsv(out / "pages" / f"{names[0]}.tsv")[1:] == [
            ["2026-11-01", names[0], "3"], ["2026-11-02", names[0], "3"]]
        assert read_tsv(out / "pages" / f"{names[1]}.tsv")[1:] == [
            ["2026-11-01", names[1], "7"], ["2026-11-02", names[1], "7"]]
    finally:
        with mariadb_server.cursor() as cursor:
            for name in names:
                cursor.execute(f"DROP DATABASE IF EXISTS {name}")


# -- deadlines: a server that stops answering -----------------------------------------


@pytest.fixture
def private_db(private_mariadb, tmp_path):
    """A fresh database on the private server (the one tests may freeze)."""
    name = f"ru_private_{secrets.token_hex(4)}"
    private_mariadb.execute(f"CREATE DATABASE {name}")
    private_mariadb.execute(f"CREATE TABLE {name}.page (id INT)")
    private_mariadb.execute(f"INSERT INTO {name}.page VALUES (1), (2), (3)")
    creds = tmp_path / "private.cnf"
    creds.write_text("[client]\nuser = root\npassword =\n")
    yield name, creds
    private_mariadb.execute(f"DROP DATABASE {name}")


def private_folder(make_folder, server, name, creds, query, timeout="timeout: 2"):
    return make_folder(f"""
        databases:
            db: {{host: {server.host}, port: {server.port}, creds_file: {creds}, db: {name}}}
        reports:
            r: {{granularity: days, starts: 2026-11-01, db: db, {timeout}}}
        """, files={"r.sql": query})


def test_a_frozen_server_fails_the_interval_instead_of_hanging(make_folder, private_mariadb,
                                                               private_db, tmp_path):
    name, creds = private_db
    folder = private_folder(make_folder, private_mariadb, name, creds,
                            "SELECT DATE('{from_timestamp}') AS date, SLEEP(20) AS n")
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "reportupdater", "run", str(folder), str(out),
                            "--now", "2026-11-02"], cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        # Freeze the server while the query runs on it: nothing it does (neither
        # max_statement_time nor KILL QUERY) can end the query now.
        deadline = time.monotonic() + 20
        while not private_mariadb.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s "
                "AND ID != CONNECTION_ID()", ("%SLEEP(20)%",)):
            assert run.poll() is None and time.monotonic() < deadline, run.stderr.read()
            time.sleep(0.02)
        with private_mariadb.frozen():
            _, err = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 1, err
    assert (f"report 'r' interval 2026-11-01..2026-11-02: database 'db' at 127.0.0.1:"
            f"{private_mariadb.port} did not answer within 7 s; the connection is dropped "
            "and the next query reconnects") in err
    assert not (out / "r.tsv").exists()


def test_after_a_deadline_the_next_query_reconnects(make_folder, private_mariadb, private_db,
                                                    tmp_path):
    name, creds = private_db
    folder = private_folder(make_folder, private_mariadb, name, creds,
                            "SELECT DATE('{from_timestamp}') AS date, COUNT(*) AS n FROM page")
    config = load_config(folder)
    (report,) = config.reports
    query = Query(report, Interval.containing(dt.datetime(2026, 11, 1), Granularity.DAYS), {},
                  text="SELECT '2026-11-01' AS date, COUNT(*) AS n FROM page")
    pool = EnginePool(config)
    try:
        with pool.acquire(report, {}) as first:
            assert first.run(query).rows == [("2026-11-01", 3)]
        with private_mariadb.frozen():
            failure = within(60, lambda: run_on(pool, report, query, expected_engine=first))
        assert isinstance(failure, ExecutionError)
        assert str(failure) == (
            f"database 'db' at 127.0.0.1:{private_mariadb.port} did not answer within 7 s; "
            "the connection is dropped and the next query reconnects")
        with pool.acquire(report, {}) as engine:
            assert engine is not first
            assert engine.run(query).rows == [("2026-11-01", 3)]
    finally:
        pool.close()


def run_on(pool, report, query, expected_engine):
    with pool.acquire(report, {}) as engine:
        assert engine is expected_engine  # reused while it was healthy
        return engine.run(query)


def within(seconds, call):
    """What ``call()`` returned or raised, failing the test if it takes longer
    than ``seconds`` (the thread is left behind, blocked)."""
    outcome = []

    def target():
        try:
            outcome.append(call())
        except BaseException as e:  # noqa: BLE001 - handed to the test
            outcome.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still waiting after {seconds} s"
    return outcome[0]


def test_the_server_stops_a_query_at_its_timeout_by_itself(make_folder, mysql_db, tmp_path,
                                                           run_cli):
    folder = make_folder(f"""
        databases:
            db: {{host: {mysql_db.host}, port: {mysql_db.port}, creds_file: {mysql_db.creds},
                 db: {mysql_db.name}}}
        reports:
            limited: {{granularity: days, starts: 2026-11-01, db: db, timeout: 7.5}}
            unlimited: {{granularity: days, starts: 2026-11-01, db: db}}
        """, files={"limited.sql": "SELECT DATE('{from_timestamp}') AS date, "
                                   "@@max_statement_time AS seconds",
                    "unlimited.sql": "SELECT DATE('{from_timestamp}') AS date, "
                                     "@@max_statement_time AS seconds"})
    out = tmp_path / "out"
    result = run_cli("run", folder, out, "--now", "2026-11-03", "--jobs", "1")
    assert result.code == 0, result.err
    assert read_tsv(out / "limited.tsv")[1:] == [["2026-11-01", "7.5"], ["2026-11-02", "7.5"]]
    assert read_tsv(out / "unlimited.tsv")[1:] == [["2026-11-01", "0.0"], ["2026-11-02", "0.0"]]


# -- one statement per query --------------------------------------------------------


def test_a_query_with_a_second_statement_fails_and_runs_nothing(make_folder, mysql_db,
                                                                tmp_path, run_cli):
    mysql_db.execute("CREATE TABLE victim (id INT)")
    mysql_db.execute("INSERT INTO victim VALUES (1)")
    folder = make_folder(f"""
        databases:
            db: {{host: {mysql_db.host}, port: {mysql_db.port}, creds_file: {mysql_db.creds},
                 db: {mysql_db.name}}}
        reports:
            r: {{granularity: days, starts: 2026-11-01, db: db}}
        """, files={"r.sql": "SELECT DATE('{from_timestamp}') AS date, 1 AS n; "
                             "DROP TABLE victim; SELECT 1"})
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02")
    assert result.code == 1
    assert (f"report 'r' interval 2026-11-01..2026-11-02: query failed on database "
            f"'{mysql_db.name}': (1064, \"You have an error in your SQL syntax") in result.err
    assert "near 'DROP TABLE victim; SELECT 1' at line 1\") (a query must be a single " \
           "statement)" in result.err
    assert mysql_db.execute("SELECT id FROM victim") == ((1,),)
    assert not (tmp_path / "out" / "r.tsv").exists()


# -- shards found through DNS SRV records -----------------------------------------------


def shard_folder(make_folder, tmp_path, wiki, shard="s1"):
    mw = tmp_path / "mediawiki-config" / "dblists"
    mw.mkdir(parents=True)
    (mw / f"{shard}.dblist").write_text(wiki + "\n")
    creds = tmp_path / "shard.cnf"
    creds.write_text("[client]\nuser = root\npassword =\n")
    return make_folder(f"""
        databases:
            mw:
                auto_find_db_shard: true
                wiki_db_placeholder: wiki_db
                mw_config_path: {tmp_path / 'mediawiki-config'}
                domain: {DOMAIN}
                creds_file: {creds}
        reports:
            pages:
                db: mw
                granularity: days
                starts: 2026-11-01
                explode_by: {{wiki_db: {wiki}}}
        """, files={"pages.sql": "SELECT DATE('{from_timestamp}') AS date, @@port AS port, "
                                 "DATABASE() AS db, COUNT(*) AS pages FROM page"})


def test_a_shard_found_through_dns_runs_its_query_there(make_folder, dns_server,
                                                        private_mariadb, private_db, tmp_path,
                                                        run_cli, monkeypatch):
    name, _ = private_db
    monkeypatch.setenv("REPORTUPDATER_DNS_SERVERS", dns_server.address)
    folder = shard_folder(make_folder, tmp_path, name)
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02")
    assert result.code == 0, result.err
    assert read_tsv(tmp_path / "out" / "pages" / f"{name}.tsv") == [
        ["date", "port", "db", "pages"],
        ["2026-11-01", str(private_mariadb.port), name, "3"]]


@pytest.mark.parametrize("server, shard, reason", [
    ("dns_server", "s3", "the record does not exist (NXDOMAIN from DNS server(s) {address})"),
    ("silent_dns", "s1", "no answer from DNS server(s) {address} within 5 s"),
], ids=["nxdomain", "no-answer"])
def test_a_failed_shard_lookup_names_the_wiki_and_the_record(make_folder, tmp_path, run_cli,
                                                             monkeypatch, request, server,
                                                             shard, reason):
    server = request.getfixturevalue(server)
    address = getattr(server, "address", server)
    monkeypatch.setenv("REPORTUPDATER_DNS_SERVERS", address)
    folder = shard_folder(make_folder, tmp_path, "aawiki", shard=shard)
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02")
    assert result.code == 1
    assert ("report 'pages' (wiki_db=aawiki): cannot find the server of wiki 'aawiki' "
            f"(shard {shard}): the DNS SRV lookup of _{shard}-analytics._tcp.{DOMAIN} failed: "
            f"{reason.format(address=address)}; fix DNS, or add {shard} to the database's "
            "shards map") in result.err
    assert not (tmp_path / "out" / "pages").exists()
