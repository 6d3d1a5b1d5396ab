"""Parallel execution: same bytes as --jobs 1, database limits, fairness, checkpoints, stops."""

import datetime as dt
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymysql
import pytest

from conftest import MARIADB, REPO, read_tsv
from reportupdater import timeline as tl
from reportupdater.config import load_config
from reportupdater.engines.mysql import MysqlEngine
from reportupdater.intervals import Granularity
import reportupdater as ru

D = dt.datetime


def tree(folder: Path) -> dict[str, bytes]:
    """Every timeline under ``folder`` and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.tsv"))}


def errors(stderr: str, out: Path) -> list[str]:
    """The failures a run logged, without time stamps or output folder, sorted."""
    return sorted(line.split(" ", 1)[1].replace(str(out), "OUT")
                  for line in stderr.splitlines() if " ERROR " in line)


@pytest.fixture
def events(mysql_db):
    """A month of events in three wikis."""
    mysql_db.execute("CREATE TABLE events (id INT PRIMARY KEY AUTO_INCREMENT, "
                     "wiki VARBINARY(32), ts VARBINARY(14), user_id INT, "
                     "INDEX (wiki, ts), INDEX (ts))")
    rows = []
    for day in range(1, 32):
        for w, wiki in enumerate(("enwiki", "dewiki", "frwiki")):
            for i in range((day * 7 + w * 5) % 11):
                rows.append((wiki, f"202610{day:02d}{i:02d}3000", (day + i) % 4))
    mysql_db.executemany("INSERT INTO events (wiki, ts, user_id) VALUES (%s, %s, %s)", rows)
    return mysql_db


def mariadb_folder(make_folder, db, max_connections=4, sleep=0.0):
    # dewiki fails on the 7th and the 19th ("Subquery returns more than 1 row").
    return make_folder(f"""
        databases:
            d:
                host: {db.host}
                port: {db.port}
                creds_file: {db.creds}
                db: {db.name}
                max_connections: {max_connections}
        defaults:
            db: d
        reports:
            by_wiki:
                granularity: days
                starts: 2026-10-01
                explode_by: {{wiki: "enwiki, dewiki, frwiki, nowiki"}}
            per_wiki:
                granularity: days
                starts: 2026-10-01
            weekly:
                granularity: weeks
                starts: 2026-09-27
                execute: per_wiki
        """, files={
        "by_wiki.sql": f"""
            SELECT DATE('{{from_date}}') AS date, COUNT(*) AS events,
                   COUNT(DISTINCT user_id) AS users, CONNECTION_ID() > 0 AS ok,
                   IF('{{wiki}}' = 'dewiki' AND DAYOFMONTH('{{from_date}}') IN (7, 19),
                      (SELECT 1 UNION SELECT 2), SLEEP({sleep})) AS nothing
            FROM events
            WHERE wiki = '{{wiki}}' AND ts >= '{{from_timestamp}}' AND ts < '{{to_timestamp}}'
            """,
        "per_wiki.sql": """
            SELECT DATE(ts) AS date, wiki, COUNT(*) AS events
            FROM events
            WHERE ts >= '{from_timestamp}' AND ts < '{to_timestamp}'
            GROUP BY DATE(ts), wiki
            ORDER BY DATE(ts), wiki
            """,
    })


def seed_output(out: Path) -> None:
    """Files a previous run left: a gap to fill, a column that went away, a corrupt file."""
    (out / "by_wiki").mkdir(parents=True)
    (out / "by_wiki/enwiki.tsv").write_text(
        "date\tevents\told\n2026-10-01\t99\tx\n2026-10-05\t98\ty\n")
    (out / "by_wiki/nowiki.tsv").write_text("date\tevents\nnot a date\t1\n")


@pytest.mark.parametrize("jobs", ["4", "9"])
def test_parallel_runs_write_the_same_bytes_as_jobs_1_on_mariadb(make_folder, events,
                                                                  tmp_path, run_cli, jobs):
    folder = mariadb_folder(make_folder, events, max_connections=3)
    results = {}
    for variant in ("1", jobs):
        out = tmp_path / f"out-{variant}"
        seed_output(out)
        first = run_cli("run", folder, out, "--now", "2026-10-20", "--jobs", variant)
        second = run_cli("run", folder, out, "--now", "2026-11-01", "--jobs", variant,
                         "--checkpoint-seconds", "0")
        results[variant] = (first.code, errors(first.err, out), second.code,
                            errors(second.err, out), tree(out))
    assert results[jobs] == results["1"]
    code, failures, _, _, files = results["1"]
    assert code == 1
    assert ("ERROR report 'by_wiki' (wiki=dewiki) interval 2026-10-07..2026-10-08: query failed "
            f"on database '{events.name}': (1242, 'Subquery returns more than 1 row')"
            in failures)
    assert any("nowiki.tsv:2: first column 'not a date'" in f for f in failures)
    assert files["by_wiki/nowiki.tsv"] == b"date\tevents\nnot a date\t1\n"
    enwiki = read_tsv(tmp_path / f"out-{jobs}/by_wiki/enwiki.tsv")
    assert enwiki[0] == ["date", "events", "users", "ok", "nothing", "old"]
    assert [row[0] for row in enwiki[1:]] == [f"2026-10-{d:02d}" for d in range(1, 32)]
    assert enwiki[1][1:] == ["99", "", "", "", "x"]  # done before: kept


def slow_echo(delay_by_day: dict[int, float] | None = None) -> str:
    """A script with several rows per date, a header that grows mid-month, and
    failures on days divisible by 5; it sleeps per day if asked."""
    sleeps = " ".join(f"{d}) sleep {s};;" for d, s in (delay_by_day or {}).items())
    return f"""\
        #!/bin/sh
        day=$(echo "$1" | cut -c9-10 | sed 's/^0//')
        case "$day" in {sleeps} *) ;; esac
        if [ $((day % 5)) -eq 0 ]; then echo "no data for $1" >&2; exit 3; fi
        if [ "$day" -gt 15 ]; then
            printf 'date\\tkind\\tn\\textra\\n%s\\ta\\t%s\\tnew\\n%s\\tb\\t%s\\tnew\\n' "$1" "$day" "$1" "$3"
        else
            printf 'date\\tkind\\tn\\n%s\\ta\\t%s\\n%s\\tb\\t%s\\n' "$1" "$day" "$1" "$3"
        fi
        """


def script_folder(make_folder, script):
    return make_folder("""
        reports:
            echo:
                type: script
                granularity: days
                starts: 2026-10-01
                explode_by: {wiki: "enwiki, dewiki"}
            weekly:
                type: script
                granularity: weeks
                starts: 2026-09-27
                execute: echo
        """, executables={"echo": script})


@pytest.mark.parametrize("jobs, checkpoint", [("3", "60"), ("5", "0")])
def test_parallel_runs_write_the_same_bytes_as_jobs_1_on_scripts(make_folder, tmp_path,
                                                                  run_cli, jobs, checkpoint):
    # Later days finish first, so results come back out of order.
    folder = script_folder(make_folder, slow_echo({d: 0.01 * (31 - d) for d in range(1, 8)}))
    results = {}
    for variant, seconds in (("1", "60"), (jobs, checkpoint)):
        out = tmp_path / f"out-{variant}"
        outcome = run_cli("run", folder, out, "--now", "2026-11-01", "--jobs", variant,
                          "--checkpoint-seconds", seconds)
        results[variant] = (outcome.code, errors(outcome.err, out), tree(out))
    assert results[jobs] == results["1"]
    code, failures, files = results["1"]
    assert code == 1
    assert len([f for f in failures if "exited with status 3: no data for" in f]) == 12 + 1
    assert files["echo/enwiki.tsv"].startswith(
        b"date\tkind\tn\textra\n2026-10-01\ta\t1\t\n2026-10-01\tb\tenwiki\t\n")


class CountingConnections:
    """Polls the server's process list: the most connections to one database at once."""

    def __init__(self, database: str, ignore: int):
        self.database = database
        self.ignore = ignore  # the test's own connection
        self.most = 0
        self.done = threading.Event()
        self.connection = pymysql.connect(**MARIADB, autocommit=True)
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        with self.connection.cursor() as cursor:
            while not self.done.is_set():
                cursor.execute("SELECT COUNT(*) FROM information_schema.processlist "
                               "WHERE db = %s AND id NOT IN (CONNECTION_ID(), %s)",
                               (self.database, self.ignore))
                self.most = max(self.most, cursor.fetchone()[0])
                time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.connection.close()


def test_a_database_never_gets_more_connections_than_max_connections(make_folder, events,
                                                                     tmp_path, run_cli):
    folder = mariadb_folder(make_folder, events, max_connections=2, sleep=0.05)
    with CountingConnections(events.name, events.connection.thread_id()) as watcher:
        result = run_cli("run", folder, tmp_path / "out", "--now", "2026-10-12",
                         "--jobs", "6", "-r", "by_wiki")
    assert result.code == 1  # dewiki on the 7th
    assert watcher.most == 2  # used in parallel, never beyond the limit


def test_an_engine_is_never_used_by_two_threads_at_once(make_folder, events, tmp_path,
                                                       monkeypatch):
    folder = mariadb_folder(make_folder, events, max_connections=3, sleep=0.01)
    run = MysqlEngine.run
    in_use: dict[int, threading.Lock] = {}
    clashes, engines = [], set()

    def checked_run(self, query):
        lock = in_use.setdefault(id(self), threading.Lock())
        engines.add(id(self))
        if not lock.acquire(blocking=False):
            clashes.append(query.interval)
            return run(self, query)
        try:
            return run(self, query)
        finally:
            lock.release()

    monkeypatch.setattr(MysqlEngine, "run", checked_run)
    config = load_config(folder)
    summary = ru.run(config, tmp_path / "out", now=D(2026, 11, 1), jobs=8)
    assert summary.intervals_executed == 4 * 31 + 31 + 5
    assert clashes == []
    assert len(engines) <= 3


def test_a_slow_report_does_not_hold_up_a_fast_one(make_folder, tmp_path, run_cli):
    out = tmp_path / "out"
    folder = make_folder("""
        reports:
            slow: {type: script, granularity: days, starts: 2026-10-01}
            fast: {type: script, granularity: days, starts: 2026-10-01}
        """, executables={
        "slow": f"""\
            #!/bin/sh
            sleep 1.5
            test -f {out}/fast.tsv && echo "fast.tsv was there" >> {tmp_path}/seen
            printf 'date\\tn\\n%s\\t1\\n' "$1"
            """,
        "fast": "#!/bin/sh\nprintf 'date\\tn\\n%s\\t1\\n' \"$1\"\n"})
    result = run_cli("run", folder, out, "--now", "2026-10-03", "--jobs", "2")
    assert result.code == 0, result.err
    # The fast report's intervals ran on the other worker while the slow one
    # slept, and its file was written before the slow one's first interval ended.
    assert (tmp_path / "seen").read_text().splitlines()[0] == "fast.tsv was there"


class Snapshots:
    """Sink: the file as it is on disk after each commit."""

    def __init__(self, path: Path):
        self.path = path
        self.commits: list[list[str]] = []

    def timeline_written(self, report, explode, header, rows):
        self.commits.append([r[0] for r in read_tsv(self.path)[1:]])


def test_checkpoints_commit_each_timeline_in_date_order(make_folder, tmp_path):
    # Earlier days sleep longer, so later ones finish first; only the finished
    # prefix may be written.
    folder = make_folder("""
        reports:
            r: {type: script, granularity: days, starts: 2026-10-01}
        """, executables={"r": """\
            #!/bin/sh
            day=$(echo "$1" | cut -c9-10 | sed 's/^0//')
            sleep 0.$(( (31 - day) % 4 ))
            printf 'date\\tn\\n%s\\t1\\n' "$1"
            """})
    out = tmp_path / "out"
    snapshots = Snapshots(out / "r.tsv")
    summary = ru.run(load_config(folder), out, now=D(2026, 11, 1), jobs=4, sinks=[snapshots],
                     checkpoint_seconds=0.1)
    assert summary.failures == []
    days = [f"2026-10-{d:02d}" for d in range(1, 32)]
    assert len(snapshots.commits) > 2
    for labels in snapshots.commits:
        assert labels == days[:len(labels)]  # always a prefix, in order
    assert snapshots.commits[-1] == days


def whole(path: Path, rows_per_date: int = 2) -> list[str]:
    """The dates of a timeline, checking that every date has all its rows."""
    timeline = tl.read_timeline(path, Granularity.DAYS)
    assert timeline.header == ["date", "kind", "n"]
    for label, rows in timeline.rows.items():
        assert [r[1] for r in rows] == ["a", "b"][:rows_per_date], label
    return sorted(timeline.rows)


@pytest.mark.parametrize("sig, jobs", [(signal.SIGTERM, "3"), (signal.SIGINT, "3"),
                                       (signal.SIGTERM, "1")])
def test_a_stopped_run_leaves_whole_files_and_the_next_run_completes_them(
        make_folder, tmp_path, sig, jobs):
    script = """\
        #!/bin/sh
        sleep 0.02
        printf 'date\\tkind\\tn\\n%s\\ta\\t1\\n%s\\tb\\t2\\n' "$1" "$1"
        """
    folder = make_folder("""
        reports:
            r:
                type: script
                granularity: days
                starts: 2026-09-01
                explode_by: {wiki: "enwiki, dewiki, frwiki"}
        """, executables={"r": script})
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "reportupdater", "run", str(folder), str(out), "--now",
         "2026-11-01", "--jobs", jobs, "--checkpoint-seconds", "0.3"],
        cwd=REPO, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted; every file written so far is complete" in stderr
    files = sorted(out.rglob("*.tsv"))
    assert files, "checkpoints wrote something before the signal"
    for path in files:
        labels = whole(path)
        assert labels == [str(dt.date(2026, 9, 1) + dt.timedelta(days=i))
                          for i in range(len(labels))]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    # The next run fills in the rest, and the result is what one run would write.
    result = subprocess.run([sys.executable, "-m", "reportupdater", "run", str(folder),
                             str(out), "--now", "2026-11-01", "--jobs", "3"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    straight = tmp_path / "straight"
    subprocess.run([sys.executable, "-m", "reportupdater", "run", str(folder),
                    str(straight), "--now", "2026-11-01", "--jobs", "3"], cwd=REPO,
                   check=True, capture_output=True)
    assert tree(out) == tree(straight)


@pytest.mark.parametrize("jobs, queries", [("4", 2), ("1", 1)])  # threads, or inline
def test_sigterm_kills_the_running_query(make_folder, mysql_db, tmp_path, jobs, queries):
    folder = make_folder(f"""
        databases:
            d: {{host: {mysql_db.host}, port: {mysql_db.port}, creds_file: {mysql_db.creds},
                db: {mysql_db.name}}}
        reports:
            slow: {{db: d, granularity: days, starts: 2026-10-01}}
        """, files={"slow.sql": "SELECT DATE('{from_date}') AS date, SLEEP(60) AS n"})
    process = subprocess.Popen(
        [sys.executable, "-m", "reportupdater", "run", str(folder), str(tmp_path / "out"),
         "--now", "2026-10-03", "--jobs", jobs], cwd=REPO, stderr=subprocess.PIPE, text=True)

    def sleeping() -> int:
        return mysql_db.execute("SELECT COUNT(*) FROM information_schema.processlist "
                                "WHERE db = %s AND info LIKE 'SELECT DATE%%'",
                                (mysql_db.name,))[0][0]

    deadline = time.monotonic() + 20
    while sleeping() < queries:
        assert time.monotonic() < deadline, "the queries never started"
        time.sleep(0.05)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert time.monotonic() - started < 10  # not the 60 s the queries wanted
    deadline = time.monotonic() + 10
    while sleeping():
        assert time.monotonic() < deadline, "the queries were left running"
        time.sleep(0.05)
    assert not (tmp_path / "out/slow.tsv").exists()


@pytest.mark.parametrize("jobs", ["4", "1"])
def test_sigint_kills_the_running_scripts(make_folder, tmp_path, jobs):
    marker = tmp_path / "finished"
    folder = make_folder("""
        reports:
            r: {type: script, granularity: days, starts: 2026-10-01}
        """, executables={"r": f"#!/bin/sh\nsleep 3\necho \"$1\" >> {marker}\n"})
    process = subprocess.Popen(
        [sys.executable, "-m", "reportupdater", "run", str(folder), str(tmp_path / "out"),
         "--now", "2026-10-03", "--jobs", jobs], cwd=REPO, stderr=subprocess.PIPE,
        text=True)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)  # scripts run in their own sessions: not sent to them
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    time.sleep(3.0)
    assert not marker.exists()  # the scripts were killed with the run
