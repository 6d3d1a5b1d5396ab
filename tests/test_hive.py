"""``type: hive`` reports against a real HiveServer2 (Spark's Thrift server).

Every report runs through the real entry point on both backends: hiveserver2
(pyhive) and cli (the bundled beeline, ``--outputformat=tsv2``, against the
same server). The cli parser's tolerance of Hadoop noise is tested with a
fake ``hive`` client in a real subprocess. The server is shared by the whole
session and the event table by this module, so Hive queries stay few.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers.hive import create_event_table

from reportupdater import templates
from reportupdater.config import load_config
from reportupdater.engines import EnginePool, Query
from reportupdater.engines.hive import (HiveEngine, HiveServer2Backend, clean_header,
                                        is_noise, parse_cli_output, split_statements)
from reportupdater.errors import ExecutionError
from reportupdater.intervals import Granularity, Interval

TABLE = "ru_events"
NOW = "2024-03-02T06:00:00"  # due: 02-28, 02-29 (leap day), 03-01; a 5 h lag too
BACKENDS = ("hiveserver2", "cli")


def event(wiki, day, action, editor, enabled, bucket):
    return {"wiki": wiki, "dt": f"{day}T12:00:00Z",
            "event": {"action": action, "editor": editor, "enabled": enabled,
                      "user_edit_count_bucket": bucket}}


EVENTS = [
    event("enwiki", "2024-02-28", "init", "wikitext", True, "1-4 edits"),
    event("enwiki", "2024-02-28", "saveSuccess", "wikitext", True, "1-4 edits"),
    event("enwiki", "2024-02-28", "saveSuccess", "visualeditor", False, "5-99 edits"),
    event("dewiki", "2024-02-28", "init", "visualeditor", True, None),
    event("enwiki", "2024-02-29", "saveSuccess", "wikitext", False, "100+ edits"),
    event("dewiki", "2024-02-29", "saveSuccess", "wikitext", True, "1-4 edits"),
    event("dewiki", "2024-02-29", "saveSuccess", "wikitext", True, "1-4 edits"),
    event("dewiki", "2024-02-29", "init", "wikitext", False, "1-4 edits"),
    event("frwiki", "2024-02-29", "init", "visualeditor", True, "5-99 edits"),
    event("dewiki", "2024-03-01", "saveSuccess", "visualeditor", True, "5-99 edits"),
    event("frwiki", "2024-03-01", "saveSuccess", "wikitext", True, None),
    event("frwiki", "2024-03-01", "saveSuccess", "wikitext", True, None),
]

TEMPLATES = {
    # Jinja, backtick-quoted aliases with spaces, quoted partition values.
    "actions.hql.j2": f"""
        SELECT '{{{{ from_date }}}}' AS `date`, wiki,
               SUM(IF(event.action = 'init', 1, 0)) AS `edit attempts`,
               SUM(IF(event.action = 'saveSuccess', 1, 0)) AS `saves`
        FROM {TABLE}
        WHERE year = '{{{{ year }}}}' AND month = '{{{{ month }}}}' AND day = '{{{{ day }}}}'
        GROUP BY wiki
        ORDER BY wiki
        """,
    # As the original's codemirror/hive/toggles.hql: str.format, -- comments,
    # unquoted zero-padded partitions, a CTE, a backticked `date`, a final ";".
    # (ORDER BY added so the rows of a day come in a fixed order.)
    "toggles.hql": f"""
        with bucketed_users as (
            select
                wiki,
                case
                    when event.user_edit_count_bucket is not null then event.user_edit_count_bucket
                    -- TODO: Remove this temporary fallback once migration is complete.
                    else 'unknown'
                end as edit_count_bucket,
                event.editor,
                event.enabled
            from {TABLE}
            where
                event.action = 'saveSuccess'
                and year = {{year}}
                and month = {{month}}
                and day = {{day}}
        )
        SELECT
            '{{from_date}}' as `date`,
            wiki,
            -- T279046 - replace illegal characters
            replace(replace(edit_count_bucket, '+', ' or more'), ' ', '_') as edit_count_bucket,
            SUM(CASE WHEN editor = 'wikitext' AND enabled = true THEN 1 ELSE 0 END) AS toggled_on_from_wikitext,
            SUM(CASE WHEN editor = 'wikitext' AND enabled = false THEN 1 ELSE 0 END) AS toggled_off_from_wikitext,
            SUM(CASE WHEN editor = 'visualeditor' AND enabled = true THEN 1 ELSE 0 END) AS toggled_on_from_visualeditor
        FROM bucketed_users
        GROUP BY
            wiki,
            edit_count_bucket
        ORDER BY wiki, edit_count_bucket;
        """,
    # Exploded by wiki; a MAP and a STRUCT column come back as JSON text.
    "by_wiki.hql": f"""
        SELECT '{{from_date}}' AS `date`, COUNT(*) AS events,
               map('init', SUM(IF(event.action = 'init', 1, 0)),
                   'saveSuccess', SUM(IF(event.action = 'saveSuccess', 1, 0))) AS actions,
               MIN(event) AS first_event
        FROM {TABLE}
        WHERE wiki = '{{wiki}}' AND year = '{{year}}' AND month = '{{month}}' AND day = '{{day}}'
        """,
    "failing.hql": """
        SELECT '{from_date}' AS `date`, COUNT(*) AS events
        FROM ru_no_such_table
        WHERE year = '{year}' AND month = '{month}' AND day = '{day}'
        """,
    # Never finishes on two local cores: 4e12 rows.
    "slow.hql": """
        SELECT '{from_date}' AS `date`, SUM(hash(a.id, b.id)) AS n
        FROM range(2000000) a CROSS JOIN range(2000000) b
        """,
}

REPORTS = """
    actions:
        starts: 2024-02-28
    toggles:
        starts: 2024-02-28
    by_wiki:
        starts: 2024-02-29
        explode_by:
            wiki: dewiki, frwiki
    failing:
        starts: 2024-03-01
    slow:
        starts: 2024-03-01
        timeout: {timeout}
"""

# Long enough for beeline's JVM to start and the query to be running.
TIMEOUTS = {"hiveserver2": 3, "cli": 6}


@pytest.fixture(scope="module")
def events(hive_server):
    started = time.monotonic()
    create_event_table(hive_server, TABLE, EVENTS)
    print(f"\ncreate_event_table: {len(EVENTS)} rows in {time.monotonic() - started:.1f} s")
    return TABLE


def beeline_wrapper(hive_server, folder: Path) -> Path:
    """An executable that runs the server's beeline with the environment it needs."""
    exports = "".join(f"export {name}={shlex.quote(value)}\n"
                      for name, value in hive_server.env.items()
                      if os.environ.get(name) != value)
    wrapper = folder / "beeline"
    wrapper.write_text(f"#!/bin/sh\n{exports}exec {shlex.quote(str(hive_server.beeline))} "
                       '"$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def hive_section(backend: str, hive_server, tmp_path: Path) -> str:
    if backend == "hiveserver2":
        return textwrap.dedent(f"""
            hive:
                backend: hiveserver2
                host: {hive_server.host}
                port: {hive_server.port}
                username: ci
                configuration:
                    spark.sql.shuffle.partitions: 2
            """)
    wrapper = beeline_wrapper(hive_server, tmp_path)
    command = [str(wrapper), "-u", hive_server.jdbc_url, "-n", "ci", "--outputformat=tsv2",
               "--silent=true", "--allowMultiLineCommand=false", "-e", "{query}"]
    return textwrap.dedent(f"""
        hive:
            backend: cli
            command: {json.dumps(command)}
        """)


@dataclass
class HiveFolder:
    path: Path
    backend: str


def write_hive_folder(make_folder, section: str, backend: str) -> HiveFolder:
    reports = textwrap.indent(textwrap.dedent(REPORTS).format(timeout=TIMEOUTS[backend]),
                              "    ")
    folder = make_folder("")
    (folder / "config.yaml").write_text(
        section + "defaults:\n    type: hive\n    granularity: days\nreports:" + reports)
    for name, text in TEMPLATES.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    return HiveFolder(folder, backend)


@pytest.fixture(params=BACKENDS)
def hive_folder(request, hive_server, events, make_folder, tmp_path):
    """The query folder, with the top-level hive section for one backend."""
    section = hive_section(request.param, hive_server, tmp_path)
    return write_hive_folder(make_folder, section, request.param)


def run(run_cli, folder: Path | HiveFolder, out: Path, *reports: str):
    backend = getattr(folder, "backend", "")
    args = ["run", getattr(folder, "path", folder), out, "--now", NOW]
    for report in reports:
        args += ["-r", report]
    started = time.monotonic()
    result = run_cli(*args)
    result.seconds = time.monotonic() - started
    print(f"{backend} {' '.join(reports)}: exit {result.code} in "
          f"{result.seconds:.1f} s")
    return result


def tsv(text: str) -> str:
    return textwrap.dedent(text).lstrip().replace("|", "\t")


def parsed_tsv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f, delimiter="\t"))


# -- real runs, both backends ---------------------------------------------------


def test_daily_counts_per_wiki_with_backtick_aliases(run_cli, hive_folder, tmp_path):
    result = run(run_cli, hive_folder, tmp_path / "out", "actions")

    assert result.code == 0, result.err
    assert (tmp_path / "out/actions.tsv").read_text() == tsv("""
        date|wiki|edit attempts|saves
        2024-02-28|dewiki|1|0
        2024-02-28|enwiki|1|2
        2024-02-29|dewiki|1|2
        2024-02-29|enwiki|0|1
        2024-02-29|frwiki|1|0
        2024-03-01|dewiki|0|1
        2024-03-01|frwiki|0|2
        """)


def test_original_style_toggles_report_runs_unchanged(run_cli, hive_folder, tmp_path):
    result = run(run_cli, hive_folder, tmp_path / "out", "toggles")

    assert result.code == 0, result.err
    assert (tmp_path / "out/toggles.tsv").read_text() == tsv("""
        date|wiki|edit_count_bucket|toggled_on_from_wikitext|toggled_off_from_wikitext|toggled_on_from_visualeditor
        2024-02-28|enwiki|1-4_edits|1|0|0
        2024-02-28|enwiki|5-99_edits|0|0|0
        2024-02-29|dewiki|1-4_edits|2|0|0
        2024-02-29|enwiki|100_or_more_edits|0|1|0
        2024-03-01|dewiki|5-99_edits|0|0|1
        2024-03-01|frwiki|unknown|2|0|0
        """)


def test_exploded_report_writes_map_and_struct_as_json(run_cli, hive_folder, tmp_path):
    result = run(run_cli, hive_folder, tmp_path / "out", "by_wiki")

    assert result.code == 0, result.err

    def first(action, editor, enabled, bucket):
        return json.dumps({"action": action, "editor": editor, "enabled": enabled,
                           "user_edit_count_bucket": bucket}, separators=(",", ":"))

    header = ["date", "events", "actions", "first_event"]
    assert parsed_tsv(tmp_path / "out/by_wiki/dewiki.tsv") == [
        header,
        ["2024-02-29", "3", '{"init":1,"saveSuccess":2}',
         first("init", "wikitext", False, "1-4 edits")],
        ["2024-03-01", "1", '{"init":0,"saveSuccess":1}',
         first("saveSuccess", "visualeditor", True, "5-99 edits")],
    ]
    assert parsed_tsv(tmp_path / "out/by_wiki/frwiki.tsv") == [
        header,
        ["2024-02-29", "1", '{"init":1,"saveSuccess":0}',
         first("init", "visualeditor", True, "5-99 edits")],
        ["2024-03-01", "2", '{"init":0,"saveSuccess":2}',
         first("saveSuccess", "wikitext", True, None)],
    ]


def test_failing_query_writes_nothing_and_is_retried(run_cli, hive_folder, tmp_path):
    out = tmp_path / "out"
    failed = run(run_cli, hive_folder, out, "failing")

    assert failed.code == 1
    assert "report 'failing' interval 2024-03-01..2024-03-02" in failed.err
    assert "TABLE_OR_VIEW_NOT_FOUND" in failed.err
    assert not (out / "failing.tsv").exists()

    template = hive_folder.path / "failing.hql"
    template.write_text(template.read_text().replace("ru_no_such_table", TABLE))
    retried = run(run_cli, hive_folder, out, "failing")

    assert retried.code == 0, retried.err
    assert (out / "failing.tsv").read_text() == tsv("""
        date|events
        2024-03-01|3
        """)


def test_timeout_cancels_the_query_and_writes_nothing(run_cli, hive_folder, tmp_path):
    timeout = TIMEOUTS[hive_folder.backend]
    result = run(run_cli, hive_folder, tmp_path / "out", "slow")

    assert result.code == 1
    assert f"timed out after {timeout} s" in result.err
    assert not (tmp_path / "out/slow.tsv").exists()
    assert result.seconds < timeout + 10


# -- hiveserver2 only -------------------------------------------------------------


def test_one_connection_serves_every_interval_within_max_concurrency(
        run_cli, make_folder, hive_server, events, tmp_path, monkeypatch):
    connects = []
    real_connect = HiveServer2Backend._connect
    monkeypatch.setattr(HiveServer2Backend, "_connect",
                        lambda self: connects.append(1) or real_connect(self))
    section = (hive_section("hiveserver2", hive_server, tmp_path)
               + "    max_concurrency: 1\n")
    folder = write_hive_folder(make_folder, section, "hiveserver2")

    result = run(run_cli, folder, tmp_path / "out", "toggles", "failing")  # 4 intervals

    assert result.code == 1  # 'failing' fails; the connection survives it
    assert (tmp_path / "out/toggles.tsv").read_text().count("\n") == 7
    assert len(connects) == 1


def test_a_lost_connection_is_replaced(make_folder, hive_server):
    folder = make_folder(f"""
        hive: {{backend: hiveserver2, host: {hive_server.host}, port: {hive_server.port}}}
        reports:
            r: {{type: hive, granularity: days, starts: 2024-03-01}}
        """, files={"r.hql": "SELECT '{from_date}' AS `date`, 1 AS n"})
    config = load_config(folder)
    report = config.reports[0]
    interval = Interval.containing(dt.datetime(2024, 3, 1), Granularity.DAYS)
    query = Query(report, interval, {}, text=templates.render(report, interval, {}))
    pool = EnginePool(config)
    try:
        with pytest.raises(ExecutionError, match="lost the connection to HiveServer2 at"):
            with pool.acquire(report, {}) as engine:
                first = engine
                engine.connection._transport.close()  # as if the server went away
                engine.run(query)
        assert not first.healthy

        with pool.acquire(report, {}) as engine:
            assert engine is not first
            assert engine.run(query).rows == [("2024-03-01", 1)]
    finally:
        pool.close()


def ldap_folder(make_folder, hive_server, password_file: str):
    return make_folder(f"""
        hive:
            backend: hiveserver2
            host: {hive_server.host}
            port: {hive_server.port}
            auth: LDAP
            username: ci
            password_file: {password_file}
        reports:
            actions:
                type: hive
                granularity: days
                starts: 2024-03-01
        """, files={"actions.hql.j2": TEMPLATES["actions.hql.j2"]})


def test_ldap_auth_reads_the_password_file(run_cli, make_folder, hive_server, events,
                                           tmp_path):
    # The test server checks no password, but the client must send one over PLAIN.
    folder = ldap_folder(make_folder, hive_server, "secret.txt")
    (folder / "secret.txt").write_text("s3cret\n")

    result = run(run_cli, folder, tmp_path / "out", "actions")

    assert result.code == 0, result.err
    assert (tmp_path / "out/actions.tsv").read_text() == tsv("""
        date|wiki|edit attempts|saves
        2024-03-01|dewiki|0|1
        2024-03-01|frwiki|0|2
        """)


def test_unreadable_password_file_fails_the_interval(run_cli, make_folder, hive_server,
                                                     tmp_path):
    folder = ldap_folder(make_folder, hive_server, "missing.txt")

    result = run(run_cli, folder, tmp_path / "out", "actions")

    assert result.code == 1
    assert (f"cannot read the hive password_file '{folder / 'missing.txt'}': "
            "No such file or directory") in result.err
    assert not (tmp_path / "out/actions.tsv").exists()


def test_unreachable_server_fails_the_interval(run_cli, make_folder, tmp_path):
    folder = make_folder("""
        hive: {backend: hiveserver2, host: 127.0.0.1, port: 9}
        reports:
            r: {type: hive, granularity: days, starts: 2024-03-01}
        """, files={"r.hql": "SELECT '{from_date}' AS `date`, 1 AS n"})

    result = run(run_cli, folder, tmp_path / "out")

    assert result.code == 1
    assert "cannot connect to HiveServer2 at 127.0.0.1:9 (auth NONE" in result.err


# -- cli: a fake `hive` client on PATH ----------------------------------------------

FAKE_HIVE = f"""#!{sys.executable}
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "args.json"), "w") as f:
    json.dump(sys.argv[1:], f)
sys.stdout.write(open(os.path.join(here, "stdout.txt")).read())
sys.stderr.write(open(os.path.join(here, "stderr.txt")).read())
sys.exit(int(open(os.path.join(here, "status.txt")).read()))
"""

NOISY_STDOUT = """\
SLF4J: Class path contains multiple SLF4J bindings.
24/03/02 04:32:01 WARN conf.HiveConf: HiveConf of name hive.metastore.local does not exist
Mar 02, 2024 4:32:05 AM org.apache.parquet.hadoop.ParquetRecordReader initialize

t.date\tt.wiki\tnote
Mar 02, 2024 4:32:05 AM INFO: org.apache.parquet.hadoop.InternalParquetRecordReader: RecordReader initialized
2024-03-01\tenwiki\tNULL
WARNING: Can not initialize counter due to context is not a instance of TaskInputOutputContext
2024-03-01\tdewiki\tparquet.hadoop is fine in a value
WARN: The method class org.apache.commons.logging.impl.SLF4JLogFactory#release() was invoked.
"""

ORIGINAL_STYLE = """
    reports:
        toggles:
            granularity: days
            starts: 2024-03-01
            type: hive
            lag: 18000
"""


@pytest.fixture
def fake_hive(tmp_path, monkeypatch):
    """A `hive` first on PATH that prints stdout.txt/stderr.txt and exits with status.txt."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "hive").write_text(FAKE_HIVE)
    (bin_dir / "hive").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def program(stdout: str, stderr: str = "", status: int = 0) -> Path:
        (bin_dir / "stdout.txt").write_text(stdout)
        (bin_dir / "stderr.txt").write_text(stderr)
        (bin_dir / "status.txt").write_text(str(status))
        return bin_dir / "args.json"

    return program


@pytest.fixture
def original_folder(make_folder):
    return make_folder(ORIGINAL_STYLE, files={"toggles.hql": """
        -- toggles; per wiki
        SELECT '{from_date}' as `date`, wiki, '--' AS note FROM t
        WHERE year = {year} AND month = {month} AND day = {day};
        """})


def test_default_cli_runs_hive_e_and_tolerates_noise(run_cli, original_folder, fake_hive,
                                                     tmp_path):
    args = fake_hive(NOISY_STDOUT, stderr="SLF4J: See http://www.slf4j.org\nOK\n"
                                          "Time taken: 1.2 seconds, Fetched: 2 row(s)\n")

    result = run(run_cli, original_folder, tmp_path / "out")

    assert result.code == 0, result.err
    assert json.loads(args.read_text()) == [
        "--hiveconf", "hive.cli.print.header=true", "-e",
        "SELECT '2024-03-01' as `date`, wiki, '--' AS note FROM t\n"
        "WHERE year = 2024 AND month = 03 AND day = 01;"]
    assert (tmp_path / "out/toggles.tsv").read_text() == tsv("""
        date|wiki|note
        2024-03-01|enwiki|
        2024-03-01|dewiki|parquet.hadoop is fine in a value
        """)
    assert "toggles (2024-03-01..2024-03-02) stderr: Time taken: 1.2 seconds" in result.err
    assert "SLF4J" not in result.err


def test_cli_failure_reports_the_error_line(run_cli, original_folder, fake_hive, tmp_path):
    fake_hive("", stderr="SLF4J: See http://www.slf4j.org\n"
                         "FAILED: SemanticException [Error 10001]: Line 2:35 Table not found 't'\n"
                         "\tat org.apache.hadoop.hive.ql.Driver.compile(Driver.java:1)\n",
              status=64)

    result = run(run_cli, original_folder, tmp_path / "out")

    assert result.code == 1
    assert ("hive command 'hive' exited with status 64: FAILED: SemanticException "
            "[Error 10001]: Line 2:35 Table not found 't'") in result.err
    assert "Driver.compile" not in result.err
    assert not (tmp_path / "out/toggles.tsv").exists()


def test_cli_output_with_a_bad_row_fails(run_cli, original_folder, fake_hive, tmp_path):
    fake_hive("date\twiki\tnote\n2024-03-01\tenwiki\n")

    result = run(run_cli, original_folder, tmp_path / "out")

    assert result.code == 1
    assert ("hive command 'hive' printed 2 field(s) on line 2 but its header has 3 "
            "(date, wiki, note): '2024-03-01\\tenwiki'") in result.err
    assert not (tmp_path / "out/toggles.tsv").exists()


def test_cli_output_without_a_header_records_nothing(run_cli, original_folder, fake_hive,
                                                     tmp_path):
    # hive.cli.print.header=false, say: the first row would become the header.
    fake_hive("SLF4J: x\n2024-03-01\tenwiki\t\n2024-03-01\tdewiki\tok\n")

    result = run(run_cli, original_folder, tmp_path / "out")

    assert result.code == 1
    assert ("report 'toggles' interval 2024-03-01..2024-03-02: hive command 'hive' printed "
            "no header row (its first field, '2024-03-01', is a date: that is a data row, not "
            "column names); line 2: '2024-03-01\\tenwiki\\t'") in result.err
    assert not (tmp_path / "out/toggles.tsv").exists()


def test_missing_client_fails_with_a_hint(run_cli, make_folder, tmp_path):
    folder = make_folder(ORIGINAL_STYLE + """
    hive:
        command: [/nonexistent/hive, -e, "{query}"]
    """, files={"toggles.hql": "SELECT '{from_date}' AS `date`"})

    result = run(run_cli, folder, tmp_path / "out")

    assert result.code == 1
    assert ("hive command 'hive' cannot start: No such file or directory (set hive.command "
            "to a working Hive client)") in result.err


def test_query_file_placeholder_passes_a_file(run_cli, make_folder, fake_hive, tmp_path):
    args = fake_hive("date\tn\n2024-03-01\t1\n")
    folder = make_folder(ORIGINAL_STYLE + """
    hive:
        command: "hive -f {query_file}"
    """, files={"toggles.hql": "SELECT '{from_date}' AS `date`, 1 AS n"})

    result = run(run_cli, folder, tmp_path / "out")

    assert result.code == 0, result.err
    argv = json.loads(args.read_text())
    assert argv[0] == "-f" and argv[1].endswith(".hql")
    assert not Path(argv[1]).exists()  # removed after the run
    assert (tmp_path / "out/toggles.tsv").read_text() == "date\tn\n2024-03-01\t1\n"


def test_a_run_with_the_cli_backend_never_imports_pyhive(original_folder, fake_hive,
                                                        tmp_path):
    fake_hive("date\tn\n2024-03-01\t1\n")
    code = ("import sys; from reportupdater import cli; "
            f"code = cli.main(['run', {str(original_folder)!r}, {str(tmp_path / 'out')!r}, "
            "'--now', '2024-03-02']); "
            "print(code, 'pyhive' in sys.modules, 'thrift' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=os.environ)

    assert result.stdout.split() == ["0", "False", "False"], result.stderr


# -- the cli parser ---------------------------------------------------------------


def test_parse_cli_output_drops_noise_but_never_a_row():
    table = parse_cli_output(NOISY_STDOUT, "hive")

    assert table.header == ["date", "wiki", "note"]
    assert table.rows == [("2024-03-01", "enwiki", None),
                          ("2024-03-01", "dewiki", "parquet.hadoop is fine in a value")]


def test_parse_cli_output_keeps_a_noise_like_line_with_the_header_field_count():
    table = parse_cli_output("date\tlevel\n2024-03-01 04:00:00 WARN x\tWARN\n", "hive")

    assert table.rows == [("2024-03-01 04:00:00 WARN x", "WARN")]


@pytest.mark.parametrize("stdout, message", [
    ("", "hive printed no header line"),
    ("SLF4J: x\n\n", "hive printed no header line (only 1 log line(s))"),
    ("date\tn\n2024-03-01\t1\textra\n",
     "hive printed 3 field(s) on line 2 but its header has 2 (date, n): "
     "'2024-03-01\\t1\\textra'"),
    # Output that is not a TSV with a header (bytes, as the client's stdout comes):
    (b"date\tname\n2024-03-01\tcaf\xe9\n",
     "hive printed output that is not UTF-8 (byte 0xe9 on line 2); first line: 'date\\tname'"),
    (b"\x7fELF\x02\x01\x01\x00\x00\n",
     "hive printed binary output (a NUL byte on line 1); first line: "
     "'\\x7fELF\\x02\\x01\\x01\\x00\\x00'"),
    (b"log4j:WARN x\ndate\tn\tn\n2024-03-01\t1\t2\n",
     "hive printed a header with duplicate column names: n; line 2: 'date\\tn\\tn'"),
    (b"date\t\tn\n2024-03-01\t1\t2\n",
     "hive printed a header with an empty column name (column 2); line 1: 'date\\t\\tn'"),
    (b"2024-03-01 00:00:00\t41\n2024-03-01 01:00:00\t42\n",
     "hive printed no header row (its first field, '2024-03-01 00:00:00', is a date: that is "
     "a data row, not column names); line 1: '2024-03-01 00:00:00\\t41'"),
])
def test_parse_cli_output_refuses(stdout, message):
    with pytest.raises(ExecutionError) as e:
        parse_cli_output(stdout, "hive")
    assert str(e.value) == message


def test_parse_cli_output_splits_lines_at_newlines_only():
    value = "a\u2028b\u0085c\x0cd\x1ee"
    table = parse_cli_output(f"date\tv\r\n2024-03-01\t{value}\r\n".encode(), "hive")

    assert table.header == ["date", "v"]
    assert table.rows == [("2024-03-01", value)]


@pytest.mark.parametrize("line", [
    "SLF4J: Found binding in [jar:file:/usr/lib/hive/lib/log4j-slf4j-impl.jar]",
    "log4j:WARN No appenders could be found for logger",
    "24/03/02 04:32:01 INFO mapreduce.Job: map 100% reduce 100%",
    "2024-03-02T04:32:01,123  WARN [main] conf.HiveConf: HiveConf of name x does not exist",
    "2024-03-02 04:32:01,123 ERROR [main] x",
    "WARNING: Using incubator modules: jdk.incubator.vector",
    "Mar 02, 2024 4:32:05 AM org.apache.hadoop.io.compress.CodecPool getDecompressor",
    "INFO: org.apache.parquet.hadoop.ParquetFileReader: Initiating action",
])
def test_noise_lines(line):
    assert is_noise(line)


@pytest.mark.parametrize("line", [
    "date\twiki\tcount",
    "2024-03-01\tenwiki\t3",
    "2024-03-01 04:00:00\tWARN\t3",  # an hourly row whose value is a level name
    "INFO\tn",
])
def test_not_noise_lines(line):
    assert not is_noise(line)


@pytest.mark.parametrize("hql, statements", [
    ("SELECT 1", ["SELECT 1"]),
    ("SELECT 1;\n", ["SELECT 1"]),
    ("SET a=b; SELECT 1 ;;", ["SET a=b", "SELECT 1"]),
    ("-- head\nSELECT 1 -- tail\n, 2", ["SELECT 1 \n, 2"]),
    ("SELECT '--;' AS `a;--b`, \"x\\\";--\"", ["SELECT '--;' AS `a;--b`, \"x\\\";--\""]),
    ("SELECT 'it''s' -- don't\n", ["SELECT 'it''s'"]),
    ("-- only a comment\n", []),
])
def test_split_statements(hql, statements):
    assert split_statements(hql) == statements


@pytest.mark.parametrize("names, cleaned", [
    (["date", "wiki"], ["date", "wiki"]),
    (["t.date", "t.wiki", "edits"], ["date", "wiki", "edits"]),
    (["a.id", "b.id", "a.n"], ["a.id", "b.id", "n"]),  # stripping would make two "id"
    (["edit count"], ["edit count"]),
])
def test_clean_header(names, cleaned):
    assert clean_header(names) == cleaned


# -- config -------------------------------------------------------------------------


@pytest.mark.parametrize("section, key, message", [
    ("{backend: beeswax}", "hive.backend",
     "hive backend 'beeswax' is not one of cli, hiveserver2"),
    ("{backend: hiveserver2}", "hive.host", "hive host is required for backend hiveserver2"),
    ("{backend: hiveserver2, host: h, password: hunter2}", "hive.password",
     "an inline hive password is not allowed: put it in a file only this user can read "
     "and set password_file to its path"),
    ("{backend: hiveserver2, host: h, port: '10000'}", "hive.port",
     "hive port must be a port number (1-65535), not '10000'"),
    ("{backend: hiveserver2, host: h, auth: PLAIN}", "hive.auth",
     "hive auth 'PLAIN' is not one of NONE, NOSASL, LDAP, KERBEROS"),
    ("{backend: hiveserver2, host: h, auth: LDAP, username: u}", "hive.password_file",
     "hive auth LDAP needs password_file (a file holding the password)"),
    ("{command: [beeline, -e, query]}", "hive.command",
     "hive command ['beeline', '-e', 'query'] must contain exactly one {query} or "
     "{query_file} placeholder, not 0"),
    ("{command: 'hive -e \"{query}'}", "hive.command",
     "hive command 'hive -e \"{query}' cannot be split into arguments: No closing quotation"),
    ("{configuration: {mapreduce.job.queuename: [a, b]}}", "hive.configuration",
     "hive configuration 'mapreduce.job.queuename' must be a single value, not ['a', 'b']"),
    ("{max_concurrency: 0}", "hive.max_concurrency",
     "hive max_concurrency must be a whole number >= 1, not 0"),
])
def test_bad_hive_settings_skip_the_report(run_cli, make_folder, tmp_path, section, key,
                                           message):
    folder = make_folder(f"""
        hive: {section}
        reports:
            r: {{type: hive, granularity: days, starts: 2024-03-01}}
        """, files={"r.hql": "SELECT '{from_date}' AS `date`"})

    result = run(run_cli, folder, tmp_path / "out")

    assert result.code == 1
    assert f"config.yaml:2, report 'r', key '{key}': {message} (report skipped)" in result.err


def test_report_hive_section_overrides_the_top_level_one(make_folder):
    folder = make_folder("""
        hive:
            backend: hiveserver2
            host: hive.example.org
            auth: kerberos
            configuration: {mapreduce.job.queuename: reports, hive.exec.parallel: true}
        reports:
            a: {type: hive, granularity: days, starts: 2024-03-01}
            b:
                type: hive
                granularity: days
                starts: 2024-03-01
                hive: {max_concurrency: 1}
            c:
                type: hive
                granularity: days
                starts: 2024-03-01
                hive: {backend: cli, port: 0}
        """, files={"a.hql": "SELECT 1", "b.hql": "SELECT 1", "c.hql": "SELECT 1"})

    config = load_config(folder)

    assert [str(p) for p in config.problems] == [
        f"{folder / 'config.yaml'}:18, report 'c', key 'hive.port': hive port must be a "
        "port number (1-65535), not 0"]
    a, b = config.reports
    settings = a.hive_settings
    assert (settings.backend, settings.host, settings.port, settings.auth,
            settings.kerberos_service_name, settings.database, settings.max_concurrency) == (
        "hiveserver2", "hive.example.org", 10000, "KERBEROS", "hive", "default", 2)
    assert settings.configuration == (("hive.exec.parallel", "true"),
                                      ("mapreduce.job.queuename", "reports"))
    # Same backend, so one pool slot, limited by the lowest max_concurrency.
    assert HiveEngine.pool_key(config, a, {}) == HiveEngine.pool_key(config, b, {})
    assert HiveEngine.pool_key(config, a, {})[1] == 1


def test_defaults_for_an_original_style_report(make_folder):
    folder = make_folder(ORIGINAL_STYLE, files={"toggles.hql": "SELECT 1"})

    settings = load_config(folder).reports[0].hive_settings

    assert settings.backend == "cli"
    assert settings.command == ("hive", "--hiveconf", "hive.cli.print.header=true", "-e",
                                "{query}")
    assert settings.max_concurrency == 2
