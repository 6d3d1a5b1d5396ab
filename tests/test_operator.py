"""Operator tools: validate, render, run --dry-run, status, progress, JSON logs.

Every test goes through ``reportupdater.cli.main``. The demo query folder is
copied (so no lock or rerun file of the real one is touched); the other
folders are small ``type: script`` folders built in tmp_path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import shutil
import socket
from pathlib import Path

import pytest
from conftest import REPO

from reportupdater.cli import build_parser, main
from reportupdater.publish.progress import ProgressBar
from reportupdater.publish.state import STATE_NAME

DEMO_QUERIES = REPO / "queries"
DEMO_CONFIG = REPO / "config.yaml"
DOCS = REPO / "docs" / "operator.md"


@pytest.fixture
def cli(run_cli):
    """The shared run_cli, unpacked: (exit code, stdout, stderr)."""
    def call(*argv: object) -> tuple[int, str, str]:
        result = run_cli(*argv)
        return result.code, result.out, result.err
    return call


def logged(stderr: str, level: str = "ERROR") -> list[str]:
    """The messages of the text log lines of one level."""
    return [line.split(f" {level} ", 1)[1] for line in stderr.splitlines()
            if f" {level} " in line]


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (with its content) and folder under root."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def write_output(folder: Path, files: dict[str, str]) -> Path:
    """An output folder holding these files."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to connect: {args[1:] or kwargs}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# -- folders ------------------------------------------------------------------

SCRIPT_CONFIG = """\
defaults:
    type: script
    starts: 2026-10-01
reports:
    daily:
        granularity: days
        explode_by:
            wiki: enwiki, dewiki
    flaky:
        granularity: days
"""

# daily: start end wiki folder; it notes each execution, so a dry run that
# executed anything would leave a file behind.
DAILY = """\
#!/bin/sh
echo "$1 $3" >> "$4/executed.log"
printf 'date\\tvalue\\n%s\\t%s\\n' "$1" "$3"
"""

# flaky: start end folder; fails on the dates listed in <folder>/failing.
FLAKY = """\
#!/bin/sh
if grep -qx "$1" "$3/failing" 2>/dev/null; then echo "boom on $1" >&2; exit 1; fi
printf 'date\\tvalue\\n%s\\t1\\n' "$1"
"""


@pytest.fixture
def scripts(make_folder) -> Path:
    return make_folder(SCRIPT_CONFIG, executables={"daily": DAILY, "flaky": FLAKY})


# Shaped like the original reportupdater's documentation: a MySQL database
# with a creds_file, defaults, explode_by from a file, a script, the
# deprecated funnel and max_data_points.
ORIGINAL_CONFIG = """\
databases:
    one:
        host: analytics-store.eqiad.wmnet
        port: 3306
        creds_file: /etc/mysql/conf.d/research-client.cnf
        db: log

defaults:
    db: one

reports:
    edits_per_wiki:
        granularity: days
        starts: 2016-01-01
        explode_by:
            wiki: wikis.txt
    page_creations:
        granularity: months
        starts: 2015-06-01
        funnel: true
        max_data_points: 12
    editor_usage:
        type: script
        granularity: weeks
        starts: 2016-01-03
        lag: 3600
        explode_by:
            editor: visualeditor, wikitext
"""


@pytest.fixture
def original(make_folder) -> Path:
    return make_folder(ORIGINAL_CONFIG, {
        "wikis.txt": "enwiki\ndewiki\n",
        "edits_per_wiki.sql":
            "SELECT DATE('{from_timestamp}') AS date, COUNT(*) AS edits\n"
            "FROM {wiki}.revision\n"
            "WHERE rev_timestamp >= '{from_timestamp}' AND rev_timestamp < '{to_timestamp}'\n",
        "page_creations.sql":
            "SELECT '{from_date}' AS date, COUNT(*) AS pages\n"
            "FROM log.PageCreation_7481635\n"
            "WHERE timestamp >= '{from_timestamp}' AND timestamp < '{to_timestamp}'\n",
    }, executables={"editor_usage": '#!/bin/sh\nprintf "date\\tcount\\n%s\\t1\\n" "$1"\n'})


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the demo query folder, and an output folder in which the run
    computed weekly_toggles and monthly_summary (not the daily reports)."""
    root = tmp_path_factory.mktemp("demo")
    queries = root / "queries"
    shutil.copytree(DEMO_QUERIES, queries, ignore=shutil.ignore_patterns(".lock", ".reruns"))
    shutil.copy(DEMO_CONFIG, queries / "config.yaml")
    output = root / "output"
    code = main(["run", str(queries), str(output), "--now", "2026-11-01", "--no-graphite",
                 "-r", "weekly_toggles", "-r", "monthly_summary", "--progress", "never"])
    assert code == 0
    return queries, output


# -- validate -----------------------------------------------------------------


def test_validate_demo(cli, no_network):
    code, out, _ = cli("validate", DEMO_QUERIES, "--config-path", DEMO_CONFIG)
    assert (code, out) == (0, f"OK: {DEMO_CONFIG} (4 of 4 reports usable)\n")


def test_validate_original_style_folder_passes_with_warnings(cli, original, no_network):
    code, out, _ = cli("validate", original)
    config = original / "config.yaml"
    assert code == 0
    assert out.splitlines() == [
        f"warning: {config}:5, key 'databases.one.creds_file': creds_file "
        "'/etc/mysql/conf.d/research-client.cnf' cannot be read here; a run on this "
        "machine could not connect",
        f"warning: {config}:20, report 'page_creations', key 'funnel': funnel is "
        "deprecated and ignored: several rows per date are always allowed",
        f"0 errors, 2 warnings in {config} (3 of 3 reports usable)",
    ]


BROKEN_CONFIG = """\
databases:
    one:
        host: db.example.org
        db: log
defaults:
    db: one
    starts: 2026-01-01
reports:
    bad_granularity:
        granularity: daily
    unknown_placeholder:
        granularity: days
        explode_by:
            wiki: wikis.txt
    empty_explode:
        granularity: days
        explode_by:
            wiki: empty.txt
    not_executable:
        type: script
        granularity: days
    bad_attribute:
        granularity: days
    bad_format_spec:
        granularity: days
        startz: 2026-01-01
"""


def test_validate_lists_every_problem_with_file_line_report_and_key(cli, make_folder,
                                                                    no_network):
    folder = make_folder(BROKEN_CONFIG, {
        "bad_granularity.sql": "SELECT '{from_date}' AS date\n",
        "unknown_placeholder.sql": "SELECT '{from_date}' AS date, '{wikii}' AS wiki\n",
        "wikis.txt": "enwiki\n",
        "empty.txt": "",
        "empty_explode.sql": "SELECT '{from_date}' AS date\n",
        "not_executable": "#!/bin/sh\n",
        # Both parse; they fail only when rendered.
        "bad_attribute.sql.j2": "SELECT {{ from_date | sql_quote }}, {{ explode.wikii }}\n",
        "bad_format_spec.sql": "SELECT '{from_date}' AS date, {year:d} AS y\n",
        ".reruns/bad.txt": "not a date\n",
        ".reruns/unknown.txt": "2026-01-01\n2026-01-02\nno_such_report\n",
    })
    code, out, _ = cli("validate", folder)
    c, f = folder / "config.yaml", folder
    assert code == 1
    assert out.splitlines() == [
        f"error: {c}:10, report 'bad_granularity', key 'granularity': granularity 'daily' "
        "is not one of hours, days, weeks, months",
        f"error: {c}:11, report 'unknown_placeholder', key 'execute': template "
        f"'{f}/unknown_placeholder.sql' uses unknown placeholder {{wikii}} (known: day, "
        "from_date, from_timestamp, hour, month, to_date, to_timestamp, wiki, year)",
        f"error: {c}:15, report 'empty_explode', key 'explode_by.wiki': explode file "
        f"'{f}/empty.txt' has no values",
        f"error: {c}:19, report 'not_executable', key 'execute': script "
        f"'{f}/not_executable' is not executable (chmod +x it)",
        f"error: {c}:22, report 'bad_attribute', key 'execute': trial render of interval "
        f"2026-01-01..2026-01-02 failed: template {f}/bad_attribute.sql.j2: 'dict object' "
        "has no attribute 'wikii' (known: day, end, explode, from_date, from_timestamp, "
        "granularity, hour, month, report, start, to_date, to_timestamp, year)",
        f"error: {c}:24, report 'bad_format_spec', key 'execute': trial render of interval "
        f"2026-01-01..2026-01-02 failed: template {f}/bad_format_spec.sql cannot be "
        "formatted: Unknown format code 'd' for object of type 'str'",
        f"warning: {c}:26, report 'bad_format_spec', key 'startz': unknown key 'startz' "
        "(ignored; is it a typo?)",
        f"warning: {f}/.reruns/bad.txt: ignored by runs: expected a start date, an end "
        "date and report names, one per line; found 1 line(s)",
        f"warning: {f}/.reruns/unknown.txt: it names only unknown report(s) "
        "'no_such_report'; the next run moves it to .reruns/rejected/",
        f"6 errors, 3 warnings in {c} (2 of 6 reports usable)",
    ]


def test_validate_config_that_is_not_yaml(cli, make_folder):
    folder = make_folder("reports: [unclosed\n")
    code, out, _ = cli("validate", folder)
    assert code == 1
    assert out.startswith(f"error: {folder}/config.yaml:2: the config is not valid YAML: ")
    assert out.endswith("\n1 error\n")


def test_validate_missing_query_folder_is_a_usage_error(cli, tmp_path):
    code, _, err = cli("validate", tmp_path / "nope")
    assert code == 2
    assert logged(err) == [f"query folder '{tmp_path}/nope' does not exist or is not a folder"]


# -- render -------------------------------------------------------------------


def demo_render(cli, *argv: object) -> tuple[int, str, str]:
    return cli("render", DEMO_QUERIES, *argv, "--config-path", DEMO_CONFIG)


def test_render_legacy_sql_template(cli, no_network):
    code, out, err = demo_render(cli, "toggles_by_editor", "--date", "2026-10-05",
                                 "--explode", "wiki=enwiki")
    assert code == 0
    assert out == (DEMO_QUERIES / "toggles_by_editor.sql").read_text().format(
        wiki="enwiki", year="2026", month="10", day="05", from_timestamp="20261005000000",
        to_timestamp="20261006000000")
    assert "AND wiki = 'enwiki'" in out
    assert logged(err, "INFO") == [
        "toggles_by_editor, interval 2026-10-05..2026-10-06, wiki=enwiki"]


def test_render_jinja_template_for_the_week_containing_the_date(cli):
    code, out, _ = demo_render(cli, "weekly_toggles", "--date", "2026-10-07")
    assert code == 0
    assert "DATE '2026-10-04' AS date" in out  # Wednesday 7th: the week from Sunday 4th
    assert "AND dt < TIMESTAMP '2026-10-11'" in out


def test_render_script_prints_its_argv_shell_quoted(cli, make_folder):
    folder = make_folder("reports:\n  by_site:\n    type: script\n    granularity: months\n"
                         "    starts: 2026-01-01\n    explode_by:\n"
                         "      site: main site, wiki\n      lang: en, de\n",
                         executables={"by_site": "#!/bin/sh\n"})
    code, out, _ = cli("render", folder, "by_site", "--date", "2026-10-17",
                       "--explode", "site=main site", "--explode", "lang=de")
    assert code == 0
    assert out == f"{folder}/by_site 2026-10-01 2026-11-01 de 'main site' {folder}\n"


def test_render_before_starts_warns(cli):
    code, _, err = demo_render(cli, "weekly_toggles", "--date", "2025-10-05")
    assert code == 0
    assert logged(err, "WARNING") == [
        "interval 2025-10-05..2025-10-12 is before the report starts (2026-08-01); no run "
        "executes it"]


@pytest.mark.parametrize("argv, message", [
    (["toggles_by_editor"],
     "report 'toggles_by_editor' explodes by wiki; pass --explode wiki=VALUE, one of: "
     "enwiki, dewiki, eswiki"),
    (["toggles_by_editor", "--explode", "wiki=frwiki"],
     "'frwiki' is not a value of wiki for report 'toggles_by_editor'; the values are: "
     "enwiki, dewiki, eswiki"),
    (["toggles_by_editor", "--explode", "wik=enwiki"],
     "report 'toggles_by_editor' has no explode placeholder 'wik'; its placeholders are: "
     "wiki"),
    (["weekly_toggles", "--explode", "wiki=enwiki"],
     "report 'weekly_toggles' has no explode placeholder 'wiki'; it does not explode"),
    (["toggles_by_editor", "--explode", "enwiki"],
     "--explode 'enwiki' must be NAME=VALUE"),
    (["toggles_by_editor", "--explode", "wiki=enwiki", "--explode", "wiki=dewiki"],
     "--explode wiki is given twice ('enwiki' and 'dewiki'); give it once"),
    (["toggles_by_edits"],
     f"unknown report 'toggles_by_edits'; the config {DEMO_CONFIG} has: toggles_by_editor, "
     "weekly_toggles, toggles_by_edit_count, monthly_summary"),
])
def test_render_usage_errors(cli, argv, message):
    code, out, err = demo_render(cli, *argv, "--date", "2026-10-05")
    assert (code, out) == (2, "")
    assert logged(err) == [message]


def test_render_bad_date(cli):
    code, out, err = demo_render(cli, "weekly_toggles", "--date", "2026-13-05")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        "reportupdater render: error: argument --date: '2026-13-05' is not a date "
        "(YYYY-MM-DD) or a date and time (YYYY-MM-DD HH:MM:SS)")


def test_render_report_with_config_errors(cli, make_folder):
    folder = make_folder("reports:\n  broken:\n    type: script\n    granularity: days\n"
                         "    starts: 2026-01-01\n")
    code, _, err = cli("render", folder, "broken", "--date", "2026-01-01")
    assert code == 2
    assert logged(err)[-1] == (
        f"report 'broken' cannot be rendered because its config has errors: "
        f"{folder}/config.yaml:2, report 'broken', key 'execute': script "
        f"'{folder}/broken' does not exist. Run 'reportupdater validate' for the list.")


# -- run --dry-run ----------------------------------------------------------------


@pytest.mark.parametrize("output_exists", [False, True])
def test_dry_run_lists_intervals_and_writes_nothing(cli, tmp_path, scripts, no_network,
                                                    output_exists):
    output = tmp_path / "output"
    if output_exists:
        output.mkdir()
    before = tree(tmp_path)
    code, out, err = cli("run", scripts, output, "--dry-run", "--now", "2026-10-03")
    assert code == 0
    assert out.splitlines() == [
        "daily\twiki=enwiki\t2026-10-01\t2026-10-02",
        "daily\twiki=enwiki\t2026-10-02\t2026-10-03",
        "daily\twiki=dewiki\t2026-10-01\t2026-10-02",
        "daily\twiki=dewiki\t2026-10-02\t2026-10-03",
        "flaky\t\t2026-10-01\t2026-10-02",
        "flaky\t\t2026-10-02\t2026-10-03",
    ]
    assert err.splitlines()[-1] == "6 interval(s) would execute: daily 4, flaky 2"
    assert tree(tmp_path) == before  # no output, no lock, no script executed
    assert not (scripts / ".lock").exists()


def test_dry_run_skips_done_intervals_of_the_demo(cli, demo, no_network):
    queries, output = demo
    before = tree(output)
    code, out, err = cli("run", queries, output, "--dry-run", "--now", "2026-11-01")
    lines = out.splitlines()
    assert code == 0
    assert len(lines) == 396
    assert lines[0] == "toggles_by_editor\twiki=enwiki\t2026-08-01\t2026-08-02"
    assert lines[-1] == "toggles_by_edit_count\teditor=wikitext_2017\t2026-10-31\t2026-11-01"
    assert err.splitlines()[-1] == ("396 interval(s) would execute: toggles_by_editor 276, "
                                    "toggles_by_edit_count 120")
    assert tree(output) == before


def test_dry_run_with_an_unreadable_timeline_fails(cli, tmp_path, scripts):
    output = write_output(tmp_path / "output", {"flaky.tsv": "date\tvalue\nnot a date\t1\n"})
    code, out, err = cli("run", scripts, output, "--dry-run", "--now", "2026-10-02")
    assert code == 1
    assert out.splitlines() == ["daily\twiki=enwiki\t2026-10-01\t2026-10-02",
                                "daily\twiki=dewiki\t2026-10-01\t2026-10-02"]
    assert logged(err)[0].startswith(f"report 'flaky': {output}/flaky.tsv:2: ")


# -- the state file and status ------------------------------------------------------


def status_json(cli, *argv: object) -> tuple[int, dict]:
    code, out, _ = cli("status", *argv, "--format", "json")
    return code, json.loads(out)


def by_report(document: dict) -> dict[str, dict]:
    return {entry["report"]: entry for entry in document["reports"]}


def test_status_of_the_demo(cli, demo, no_network):
    queries, output = demo
    code, out, _ = cli("status", queries, output, "--now", "2026-11-01")
    assert code == 0
    assert out == """\
REPORT                 TYPE    GRANULARITY  FILES  FIRST       LAST        DONE/EXPECTED  MISSING  OLDEST MISSING  LAST FAILURE  ENDS  OWNER
toggles_by_editor      sql     days         0/3    -           -           0/276          276      2026-08-01      -             -     -
weekly_toggles         sql     weeks        1/1    2026-07-26  2026-10-25  14/14          0        -               -             -     editing-analytics@example.org
toggles_by_edit_count  sql     days         0/2    -           -           0/120          120      2026-09-02      -             -     -
monthly_summary        script  months       1/1    2026-08-01  2026-10-01  3/3            0        -               -             -     -
"""


def test_status_json_of_the_demo(cli, demo):
    queries, output = demo
    code, document = status_json(cli, queries, output, "--now", "2026-11-08")
    assert code == 0
    assert {k: v for k, v in document.items() if k != "reports"} == {
        "version": 1, "now": "2026-11-08T00:00:00Z", "config": f"{queries}/config.yaml",
        "query_folder": str(queries), "output_folder": str(output), "state_error": None,
        "run_in_progress": None}
    assert by_report(document)["weekly_toggles"] == {
        "report": "weekly_toggles", "type": "sql", "granularity": "weeks",
        "explode": {"with_files": 1, "total": 1},
        "first_date": "2026-07-26", "last_date": "2026-10-25",
        "intervals": {"done": 14, "expected": 15, "missing": 1,
                      "oldest_missing": {"start": "2026-11-01", "end": "2026-11-08"}},
        "last_failure": None, "errors": [],
        "owner": ["editing-analytics@example.org"], "ends": None, "ended": False,
        "alerts_firing": []}
    edit_count = by_report(document)["toggles_by_edit_count"]
    assert edit_count["intervals"] == {  # max_data_points: 60, so the window slid
        "done": 0, "expected": 120, "missing": 120,
        "oldest_missing": {"start": "2026-09-09", "end": "2026-09-10"}}


def test_a_failed_interval_is_recorded_and_shown(cli, tmp_path, scripts):
    (scripts / "failing").write_text("2026-10-03\n")
    output = tmp_path / "output"
    code, _, _ = cli("run", scripts, output, "--now", "2026-10-06")
    assert code == 1
    state = json.loads((output / STATE_NAME).read_text())
    at = state["failures"]["flaky"]["at"]
    assert dt.datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ")
    assert state == {"version": 1, "failures": {"flaky": {
        "at": at, "count": 1, "explode": {},
        "interval": {"start": "2026-10-03", "end": "2026-10-04"},
        "error": "script flaky exited with status 1: boom on 2026-10-03"}}}

    code, out, _ = cli("status", scripts, output, "--now", "2026-10-06")
    assert code == 1
    assert out == f"""\
REPORT  TYPE    GRANULARITY  FILES  FIRST       LAST        DONE/EXPECTED  MISSING  OLDEST MISSING  LAST FAILURE          ENDS  OWNER
daily   script  days         2/2    2026-10-01  2026-10-05  10/10          0        -               -                     -     -
flaky   script  days         1/1    2026-10-01  2026-10-05  4/5            1        2026-10-03      {at}  -     -

Last failures:
  flaky: {at} interval 2026-10-03..2026-10-04: script flaky exited with status 1: boom on 2026-10-03
"""
    code, document = status_json(cli, scripts, output, "--now", "2026-10-06")
    assert by_report(document)["flaky"]["last_failure"] == state["failures"]["flaky"]


def test_the_failure_is_cleared_when_the_report_later_succeeds(cli, tmp_path, scripts):
    (scripts / "failing").write_text("2026-10-02\n2026-10-03\n")
    output = tmp_path / "output"
    assert cli("run", scripts, output, "--now", "2026-10-06")[0] == 1
    assert json.loads((output / STATE_NAME).read_text())["failures"]["flaky"]["count"] == 2

    (scripts / "failing").write_text("")
    # A run of other reports leaves the failure alone...
    assert cli("run", scripts, output, "--now", "2026-10-06", "-r", "daily")[0] == 0
    assert list(json.loads((output / STATE_NAME).read_text())["failures"]) == ["flaky"]
    # ...and the run that computes its intervals clears it.
    assert cli("run", scripts, output, "--now", "2026-10-06")[0] == 0
    assert json.loads((output / STATE_NAME).read_text()) == {"version": 1, "failures": {}}
    code, document = status_json(cli, scripts, output, "--now", "2026-10-06")
    assert code == 0
    assert by_report(document)["flaky"]["last_failure"] is None
    assert by_report(document)["flaky"]["intervals"]["missing"] == 0


def test_a_run_without_failures_creates_no_state_file(cli, tmp_path, scripts):
    output = tmp_path / "output"
    assert cli("run", scripts, output, "--now", "2026-10-03")[0] == 0
    assert not (output / STATE_NAME).exists()


def test_status_reports_config_errors_and_unreadable_files(cli, tmp_path, scripts):
    (scripts / "flaky").chmod(0o644)
    output = write_output(tmp_path / "output", {"daily/dewiki.tsv": "date\tvalue\nbad\t1\n",
                                               STATE_NAME: "{not json"})
    code, out, _ = cli("status", scripts, output, "--now", "2026-10-03")
    assert code == 1
    lines = out.splitlines()
    assert lines[1:3] == [
        "daily   script  days         1/2    -      -     0/4            4        2026-10-01"
        "      -             -     -",
        "flaky   ?       ?            -      -      -     -              -        -"
        "               -             -     -"]
    assert lines[4] == "Problems:"
    assert lines[5].startswith(f"  daily: {output}/daily/dewiki.tsv:2: ")
    assert lines[6] == (f"  flaky: config: {scripts}/config.yaml:9, report 'flaky', key "
                        f"'execute': script '{scripts}/flaky' is not executable (chmod +x it)")
    assert lines[7].startswith(f"  state file {output}/{STATE_NAME} cannot be read: ")


def test_status_counts_only_interval_starts_as_done(cli, tmp_path, make_folder):
    folder = make_folder("reports:\n  weekly:\n    type: script\n    granularity: weeks\n"
                         "    starts: 2026-10-04\n", executables={"weekly": "#!/bin/sh\n"})
    output = write_output(tmp_path / "output", {  # the 7th is a Wednesday
        "weekly.tsv": "date\tn\n2026-10-04\t1\n2026-10-07\t1\n2026-10-18\t1\n"
                      "2026-10-25\t1\n2026-11-01\t1\n"})
    code, document = status_json(cli, folder, output, "--now", "2026-11-01")
    [weekly] = document["reports"]
    assert code == 0
    assert (weekly["first_date"], weekly["last_date"]) == ("2026-10-04", "2026-11-01")
    assert weekly["intervals"] == {
        "done": 3, "expected": 4, "missing": 1,
        "oldest_missing": {"start": "2026-10-11", "end": "2026-10-18"}}


def test_status_of_a_folder_never_run(cli, tmp_path, scripts):
    code, document = status_json(cli, scripts, tmp_path / "none", "--now", "2026-10-03")
    assert code == 0
    assert by_report(document)["daily"]["intervals"] == {
        "done": 0, "expected": 4, "missing": 4,
        "oldest_missing": {"start": "2026-10-01", "end": "2026-10-02"}}
    assert by_report(document)["daily"]["explode"] == {"with_files": 0, "total": 2}


# -- progress and logs ----------------------------------------------------------------


BAR = re.compile(r"\[[#-]+\] \d+/\d+ intervals \d+%, \d+ failed, (ETA|in) [-:\d]+ *")


def test_progress_bar_when_asked(cli, tmp_path, scripts):
    (scripts / "failing").write_text("2026-10-02\n")
    code, _, err = cli("run", scripts, tmp_path / "output", "--now", "2026-10-04",
                       "--progress", "always", "-j", "1")
    assert code == 1
    lines = err.split("\n")
    assert lines[0].startswith("\r[--") and "] 0/9 intervals 0%, 0 failed, ETA -:--:--" in err
    final = lines[-3].split("\r")[-1].rstrip()  # the bar's last drawing, then the summary
    assert final.startswith("[" + "#" * 10)
    assert final.endswith("] 9/9 intervals 100%, 1 failed, in 0:00:00")
    assert logged(lines[-2], "INFO")[0].startswith("run finished: 9 interval(s) executed")
    # A log line clears the bar first, so what is left on each line is one or the other.
    for line in lines[:-1]:
        shown = line.split("\r")[-1]
        assert BAR.fullmatch(shown) or shown.startswith("20"), repr(line)
    assert any(" ERROR report 'flaky' interval 2026-10-02" in line for line in lines)


@pytest.mark.parametrize("mode", ["auto", "never"])
def test_no_progress_bar_off_a_terminal(cli, tmp_path, scripts, mode):
    code, _, err = cli("run", scripts, tmp_path / "output", "--now", "2026-10-04",
                       "--progress", mode)
    assert code == 0
    assert "\r" not in err and " intervals " not in err


def test_progress_bar_eta():
    now = [100.0]
    stream = io.StringIO()
    bar = ProgressBar(10, stream, clock=lambda: now[0], width=80)
    for _ in range(4):
        now[0] += 2
        bar.interval_finished(None, {}, None, True, 2.0)
    assert bar.line() == "[" + "#" * 12 + "-" * 19 + "] 4/10 intervals 40%, 0 failed, ETA 0:00:12"
    assert stream.getvalue().count("\r") == 4  # one drawing per finished interval


def test_json_logs_are_one_object_per_line(cli, tmp_path, scripts):
    (scripts / "failing").write_text("2026-10-02\n")
    code, _, err = cli("run", scripts, tmp_path / "output", "--now", "2026-10-04",
                       "--log-format", "json")
    assert code == 1
    entries = [json.loads(line) for line in err.splitlines()]
    assert all({"time", "level", "message"} <= set(entry) for entry in entries)
    assert all(dt.datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in entries)
    assert {"error", "info"} <= {entry["level"] for entry in entries}
    assert any("boom on 2026-10-02" in entry["message"] for entry in entries)


# -- documentation ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["validate", "render", "status"])
def test_every_option_is_documented(name):
    docs = DOCS.read_text()
    assert f"reportupdater {name} " in docs
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    for action in commands.choices[name]._actions:
        for option in action.option_strings:
            if option.startswith("--") and action.help != argparse.SUPPRESS:
                assert option in docs, f"{name} {option} is not in {DOCS.name}"


def test_the_run_options_of_this_issue_are_documented():
    docs = DOCS.read_text()
    for text in ("reportupdater run ", "--dry-run", "--progress", "--log-format"):
        assert text in docs


def test_the_status_schema_is_documented(cli, tmp_path, scripts):
    (scripts / "failing").write_text("2026-10-02\n")
    cli("run", scripts, tmp_path / "output", "--now", "2026-10-03")
    _, document = status_json(cli, scripts, tmp_path / "output", "--now", "2026-10-03")

    def keys(value, prefix=""):
        if isinstance(value, dict):
            for key, inner in value.items():
                yield prefix + key
                yield from keys(inner, prefix + key + ".")
        elif isinstance(value, list):
            for inner in value:
                yield from keys(inner, prefix)

    docs = DOCS.read_text()
    documented = {k for k in keys(document) if not k.startswith("reports.last_failure.explode.")}
    for key in documented:
        assert f"`{key.rsplit('.', 1)[-1]}`" in docs, f"{key} is not in {DOCS.name}"
