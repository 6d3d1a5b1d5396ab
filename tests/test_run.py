"""Runs through the real CLI: scripts, failures, headers, trimming, lock, kills, exit codes."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, read_tsv, run_subprocess
from reportupdater import timeline as tl
from reportupdater.intervals import Granularity
from reportupdater.errors import LockHeldError
from reportupdater.lock import run_lock

ECHO = """\
#!/bin/sh
# start end [explode values...] folder
printf 'date\\tstart\\tend\\targs\\n'
printf '%s\\t%s\\t%s\\t%s\\n' "$1" "$1" "$2" "$*"
"""


def script_folder(make_folder, script=ECHO, granularity="days", extra=""):
    return make_folder(f"""
        reports:
            r:
                type: script
                granularity: {granularity}
                starts: 2026-11-01
                {extra}
        """, executables={"r": script})


def test_script_gets_dates_explode_values_and_folder(make_folder, tmp_path, run_cli):
    folder = make_folder("""
        reports:
            r:
                type: script
                granularity: days
                starts: 2026-11-01
                explode_by: {wiki: "enwiki, dewiki", editor: wikitext}
        """, executables={"r": ECHO})
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-03")
    assert result.code == 0, result.err
    assert read_tsv(tmp_path / "out/r/wikitext/dewiki.tsv") == [
        ["date", "start", "end", "args"],
        ["2026-11-01", "2026-11-01", "2026-11-02", f"2026-11-01 2026-11-02 wikitext dewiki {folder}"],
        ["2026-11-02", "2026-11-02", "2026-11-03", f"2026-11-02 2026-11-03 wikitext dewiki {folder}"],
    ]


@pytest.mark.parametrize("script, message", [
    ("#!/bin/sh\necho 'boom: table missing' >&2\nexit 3\n",
     "script r exited with status 3: boom: table missing"),
    ("#!/bin/sh\nprintf 'date\\tn\\n%s\\t1\\t2\\n' \"$1\"\n",
     "script r printed 3 fields on line 2 but its header has 2 (date, n)"),
    ("#!/bin/sh\nexit 0\n", "script r printed nothing; a header row was expected"),
    ("#!/bin/sh\nprintf 'date\\tn\\nyesterday\\t1\\n'\n",
     "row 1: the first column ('date') must be the date, but 'yesterday' is not one"),
    ("#!/bin/sh\nprintf 'date\\tn\\n2026-10-01\\t1\\n'\n",
     "row 1 is dated 2026-10-01, outside the interval 2026-11-01..2026-11-02"),
])
def test_a_failing_script_records_nothing(make_folder, tmp_path, run_cli, script, message):
    folder = script_folder(make_folder, script)
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02")
    assert result.code == 1
    assert f"report 'r' interval 2026-11-01..2026-11-02: {message}" in result.err
    assert not (tmp_path / "out" / "r.tsv").exists()


# Output that is not a TSV with a header fails its interval: nothing is
# recorded, so the interval runs again once the script is fixed.
@pytest.mark.parametrize("script, message", [
    ('#!/bin/sh\nprintf "%s\\t42\\n" "$1"\n',
     "script r printed no header row (its first field, '2026-11-01', is a date: that is a "
     "data row, not column names); first line: '2026-11-01\\t42'"),
    ('#!/bin/sh\nprintf "%s\\t41\\n%s\\t42\\n" "$1" "$1"\n',
     "script r printed no header row (its first field, '2026-11-01', is a date: that is a "
     "data row, not column names); first line: '2026-11-01\\t41'"),
    ("#!/bin/sh\nprintf '\\177ELF\\002\\001\\001\\000\\000\\n'\n",
     "script r printed binary output (a NUL byte on line 1); first line: "
     "'\\x7fELF\\x02\\x01\\x01\\x00\\x00'"),
    ("#!/bin/sh\nprintf 'date\\tname\\n%s\\tcaf\\351\\n' \"$1\"\n",
     "script r printed output that is not UTF-8 (byte 0xe9 on line 2); first line: "
     "'date\\tname'"),
    ("#!/bin/sh\nprintf '\\377\\376d\\000a\\000\\n'\n",
     "script r printed binary output (a NUL byte on line 1); first line: "
     "'\\xff\\xfed\\x00a\\x00'"),
    ("#!/bin/sh\nprintf 'date\\tn\\tn\\n%s\\t1\\t2\\n' \"$1\"\n",
     "script r printed a header with duplicate column names: n; first line: 'date\\tn\\tn'"),
    ("#!/bin/sh\nprintf 'date\\t\\tn\\n%s\\t1\\t2\\n' \"$1\"\n",
     "script r printed a header with an empty column name (column 2); first line: "
     "'date\\t\\tn'"),
    ("#!/bin/sh\nprintf 'date\\tn\\001\\n%s\\t1\\n' \"$1\"\n",
     "script r printed a header with a control character in column 2 ('n\\x01'); "
     "first line: 'date\\tn\\x01'"),
], ids=["one-row-no-header", "two-rows-no-header", "binary", "not-utf-8", "utf-16",
        "duplicate-names", "empty-name", "control-character"])
def test_output_that_is_not_a_tsv_with_a_header_records_nothing(make_folder, tmp_path, run_cli,
                                                                 script, message):
    good = "#!/bin/sh\nprintf 'date\\tname\\n%s\\tv\\n' \"$1\"\n"
    folder = script_folder(make_folder, good)
    out = tmp_path / "out"
    assert run_cli("run", folder, out, "--now", "2026-11-01").code == 0  # nothing due yet
    (folder / "r").write_bytes(script.encode())
    result = run_cli("run", folder, out, "--now", "2026-11-02")
    assert result.code == 1
    assert f"report 'r' interval 2026-11-01..2026-11-02: {message}\n" in result.err
    assert not (out / "r.tsv").exists()

    (folder / "r").write_text(good)
    result = run_cli("run", folder, out, "--now", "2026-11-02")
    assert result.code == 0, result.err
    assert (out / "r.tsv").read_text() == "date\tname\n2026-11-01\tv\n"


def test_a_headerless_script_leaves_the_recorded_rows_alone(make_folder, tmp_path, run_cli):
    folder = script_folder(make_folder, "#!/bin/sh\nprintf 'date\\tn\\tname\\n%s\\t1\\tv\\n' \"$1\"\n")
    out = tmp_path / "out"
    assert run_cli("run", folder, out, "--now", "2026-11-03").code == 0
    before = (out / "r.tsv").read_bytes()
    (folder / "r").write_text('#!/bin/sh\nprintf "%s\\t42\\tv\\n" "$1"\n')
    result = run_cli("run", folder, out, "--now", "2026-11-04")
    assert result.code == 1
    assert "report 'r' interval 2026-11-03..2026-11-04: script r printed no header row" in result.err
    assert (out / "r.tsv").read_bytes() == before
    assert before == b"date\tn\tname\n2026-11-01\t1\tv\n2026-11-02\t1\tv\n"


def test_separators_other_than_newline_are_data(make_folder, tmp_path, run_cli):
    value = "a\u2028b\u0085c\x0cd\x1ee"
    folder = script_folder(make_folder, "#!/bin/sh\nprintf 'date\\tv\\r\\n%s\\t"
                           + value + "\\r\\n' \"$1\"\n")
    out = tmp_path / "out"
    result = run_cli("run", folder, out, "--now", "2026-11-02")
    assert result.code == 0, result.err
    assert (out / "r.tsv").read_bytes() == f"date\tv\n2026-11-01\t{value}\n".encode()
    result = run_cli("run", folder, out, "--now", "2026-11-02")
    assert result.code == 0, result.err
    assert "0 interval(s) executed" in result.err


def test_script_stderr_goes_to_the_log(make_folder, tmp_path, run_cli):
    folder = script_folder(make_folder, "#!/bin/sh\necho 'scanning 3 files' >&2\n"
                                        "printf 'date\\tn\\n%s\\t1\\n' \"$1\"\n")
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02")
    assert result.code == 0
    assert "r (2026-11-01..2026-11-02) stderr: scanning 3 files" in result.err


def test_a_timeout_kills_the_script_tree(make_folder, tmp_path, run_cli):
    marker = tmp_path / "survived"
    folder = script_folder(make_folder, f"#!/bin/sh\n(sleep 3; touch {marker}) &\nsleep 30\n",
                           extra="timeout: 0.5")
    started = time.monotonic()
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02")
    assert result.code == 1
    assert "timed out after 0.5 s and was killed" in result.err
    assert time.monotonic() - started < 10
    time.sleep(3.5)
    assert not marker.exists()  # the child was killed with its parent


@pytest.mark.parametrize("then", ["sleep 30\n", "printf 'date\\tn\\n%s\\t1\\n' \"$1\"\n"],
                         ids=["script-still-running", "script-exited"])
def test_a_timeout_ends_the_wait_for_a_child_in_its_own_session(make_folder, tmp_path, then):
    pid_file = tmp_path / "child.pid"
    folder = script_folder(make_folder, f"#!/bin/sh\nsetsid sleep 25 &\necho $! > {pid_file}\n"
                                        + then, extra="timeout: 2")
    # The child holds stdout for 25 s: the run must not wait for it.
    result = run_subprocess("run", str(folder), str(tmp_path / "out"), "--now", "2026-11-02",
                            timeout=20)
    assert result.returncode == 1, result.stderr
    assert ("report 'r' interval 2026-11-01..2026-11-02: script r timed out after 2 s and "
            "was killed") in result.stderr
    assert not (tmp_path / "out" / "r.tsv").exists()
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, f"the script's child {child} is still running"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


def test_an_empty_result_writes_one_empty_row(make_folder, tmp_path, run_cli):
    folder = script_folder(make_folder, "#!/bin/sh\nprintf 'date\\ta\\tb\\n'\n")
    assert run_cli("run", folder, tmp_path / "out", "--now", "2026-11-03").code == 0
    assert (tmp_path / "out/r.tsv").read_text() == "date\ta\tb\n2026-11-01\t\t\n2026-11-02\t\t\n"


def test_header_changes_between_runs(make_folder, tmp_path, run_cli):
    folder = script_folder(make_folder, "#!/bin/sh\nprintf 'date\\tb\\tz\\n%s\\t1\\t2\\n' \"$1\"\n")
    out = tmp_path / "out"
    assert run_cli("run", folder, out, "--now", "2026-11-03").code == 0
    (folder / "r").write_text("#!/bin/sh\nprintf 'date\\tc\\tb\\n%s\\t3\\t4\\n' \"$1\"\n")
    assert run_cli("run", folder, out, "--now", "2026-11-04").code == 0
    assert read_tsv(out / "r.tsv") == [
        ["date", "c", "b", "z"],
        ["2026-11-01", "", "1", "2"],
        ["2026-11-02", "", "1", "2"],
        ["2026-11-03", "3", "4", ""],
    ]


def test_max_data_points_trims_older_rows(make_folder, tmp_path, run_cli):
    folder = script_folder(make_folder, "#!/bin/sh\nprintf 'date\\tn\\n%s\\t1\\n' \"$1\"\n",
                           extra="max_data_points: 3")
    out = tmp_path / "out"
    assert run_cli("run", folder, out, "--now", "2026-11-05").code == 0
    assert [r[0] for r in read_tsv(out / "r.tsv")] == ["date", "2026-11-02", "2026-11-03",
                                                         "2026-11-04"]
    assert run_cli("run", folder, out, "--now", "2026-11-07").code == 0
    assert [r[0] for r in read_tsv(out / "r.tsv")] == ["date", "2026-11-04", "2026-11-05",
                                                         "2026-11-06"]


def test_monthly_boundaries(make_folder, tmp_path, run_cli):
    folder = make_folder("""
        reports:
            r: {type: script, granularity: months, starts: 2025-11-15}
        """, executables={"r": ECHO})
    assert run_cli("run", folder, tmp_path / "out", "--now", "2026-03-01").code == 0
    rows = read_tsv(tmp_path / "out/r.tsv")[1:]
    assert [(r[1], r[2]) for r in rows] == [("2025-11-01", "2025-12-01"),
                                           ("2025-12-01", "2026-01-01"),
                                           ("2026-01-01", "2026-02-01"),
                                           ("2026-02-01", "2026-03-01")]


def test_hourly_reports_write_date_and_time(make_folder, tmp_path, run_cli):
    script = "#!/bin/sh\nprintf 'date\\tn\\n%s\\t1\\n' \"$1\"\n"
    folder = script_folder(make_folder, script, granularity="hours")
    assert run_cli("run", folder, tmp_path / "out", "--now", "2026-11-01T02:30").code == 0
    assert read_tsv(tmp_path / "out/r.tsv") == [
        ["date", "n"], ["2026-11-01 00:00:00", "1"], ["2026-11-01 01:00:00", "1"]]


def test_a_corrupt_timeline_is_left_alone_and_fails_the_run(make_folder, tmp_path, run_cli):
    folder = script_folder(make_folder)
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.tsv").write_text("date\tn\n01/11/2026\t5\n")
    result = run_cli("run", folder, out, "--now", "2026-11-03")
    assert result.code == 1
    assert "r.tsv:2: first column '01/11/2026' is not a date" in result.err
    assert (out / "r.tsv").read_text() == "date\tn\n01/11/2026\t5\n"


def test_a_second_concurrent_run_exits_0_without_doing_anything(make_folder, tmp_path,
                                                                 run_cli):
    folder = script_folder(make_folder)
    with run_lock(folder):
        result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-03")
    assert result.code == 0
    assert f"another run (pid {os.getpid()}) holds {folder}/.lock" in result.err
    assert not (tmp_path / "out").exists()


def test_a_killed_run_releases_its_lock(make_folder, tmp_path):
    folder = script_folder(make_folder, "#!/bin/sh\nsleep 30\n")
    process = subprocess.Popen([sys.executable, "-m", "reportupdater", "run", str(folder),
                                str(tmp_path / "out"), "--now", "2026-11-03"], cwd=REPO,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not (folder / ".lock").exists() or not (folder / ".lock").read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # A stale lock does not block. (A script child caught between fork and
    # exec may hold the lock's file description for a moment.)
    deadline = time.monotonic() + 5
    while True:
        try:
            with run_lock(folder):
                break
        except LockHeldError:
            assert time.monotonic() < deadline, "the killed run's lock is still held"
            time.sleep(0.05)


def test_killing_a_run_never_leaves_a_partial_tsv(make_folder, tmp_path):
    """SIGKILL a long backfill at random moments; the TSV is always whole."""
    rows = "\n".join(f"SELECT DATE '{{from_date}}' AS date, {i} AS k, "
                     f"'{'x' * 50}' AS pad UNION ALL" for i in range(20))
    folder = make_folder("""
        databases: {d: {engine: duckdb}}
        reports:
            big: {db: d, granularity: days, starts: 2023-01-01}
        """, files={"big.sql": rows + " SELECT DATE '{from_date}', 99, 'end'"})
    out = tmp_path / "out"
    path = out / "big.tsv"
    rng = random.Random(7)
    for attempt in range(6):
        process = subprocess.Popen(
            [sys.executable, "-m", "reportupdater", "run", str(folder), str(out),
             "--now", "2026-11-01", "--jobs", "2", "--checkpoint-seconds", "0.2"],
            cwd=REPO, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 2.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if path.exists():
            timeline = tl.read_timeline(path, Granularity.DAYS)
            assert timeline.header == ["date", "k", "pad"]
            for label, day_rows in timeline.rows.items():
                assert [r[1] for r in day_rows] == [str(i) for i in range(20)] + ["99"], label
    # One more day is due, so the last run writes, and clears the killed runs' temp files.
    result = run_subprocess("run", str(folder), str(out), "--now", "2026-11-02")
    assert result.returncode == 0, result.stderr
    timeline = tl.read_timeline(path, Granularity.DAYS)
    assert len(timeline.rows) == 1401  # 2023-01-01 .. 2026-11-01
    assert not [p for p in out.iterdir() if p.name != "big.tsv"]  # no temp files left


@pytest.mark.parametrize("args, message", [
    (["run", "no/such/folder"], "query folder 'no/such/folder' does not exist"),
    (["run", "queries", "output", "-r", "nope"], "unknown report 'nope'; the config"),
    (["run", "queries", "--now", "yesterday"], "'yesterday' is not a date"),
    (["run", "queries", "--jobs", "0"], "--jobs must be at least 1, not 0"),
    (["rerun", "queries", "2026-11-05", "2026-11-01"], "START 2026-11-05 must be before END"),
    (["rerun", "queries", "2026-11-01", "2099-01-01"], "END 2099-01-01 is in the future"),
])
def test_bad_invocations_exit_2_with_a_clear_message(args, message):
    result = run_subprocess(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_an_unreadable_config_exits_2(make_folder, tmp_path):
    folder = make_folder("reports: {r: [unclosed")
    result = run_subprocess("run", str(folder), str(tmp_path / "out"))
    assert result.returncode == 2
    assert "is not valid YAML" in result.stderr


def test_a_config_error_skips_the_report_runs_the_rest_and_exits_1(make_folder, tmp_path,
                                                                   run_cli):
    folder = make_folder("""
        reports:
            good: {type: script, granularity: days, starts: 2026-11-01, execute: r}
            bad: {type: script, granularity: yearly, starts: 2026-11-01, execute: r}
        """, executables={"r": ECHO})
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02")
    assert result.code == 1
    assert "report 'bad', key 'granularity': granularity 'yearly'" in result.err
    assert (tmp_path / "out/good.tsv").exists()


def test_the_demo_runs_out_of_the_box(tmp_path):
    out = tmp_path / "output"
    result = run_subprocess("run", "queries", str(out), "--now", "2026-11-01T00:00:00",
                            "--no-graphite")
    assert result.returncode == 0, result.stderr
    enwiki = read_tsv(out / "toggles_by_editor/enwiki.tsv")
    assert enwiki[0] == ["date", "editor", "enabled", "toggles"]
    assert {r[0] for r in enwiki[1:]} == {f"2026-{m:02d}-{d:02d}" for m, days in
                                          ((8, 31), (9, 30), (10, 31))
                                          for d in range(1, days + 1)}
    # The weekly totals add up to the daily rows of the three wikis.
    daily = sum(int(r[3]) for w in ("enwiki", "dewiki", "eswiki")
                for r in read_tsv(out / f"toggles_by_editor/{w}.tsv")[1:] if r[3])
    weekly = sum(int(r[1]) for r in read_tsv(out / "weekly_toggles.tsv")[1:])
    monthly = sum(int(r[1]) for r in read_tsv(out / "monthly_summary.tsv")[1:])
    assert daily == weekly == monthly == 3929
    assert len(read_tsv(out / "toggles_by_edit_count/wikitext_2010.tsv")) > 60


def test_python_dash_m_and_help():
    result = run_subprocess("--help")
    assert result.returncode == 0 and "run" in result.stdout and "rerun" in result.stdout


def test_failures_name_the_explode_values(make_folder, tmp_path, run_cli):
    folder = make_folder("""
        reports:
            r: {type: script, granularity: days, starts: 2026-11-01,
                explode_by: {wiki: "enwiki, dewiki"}}
        """, executables={"r": "#!/bin/sh\n[ \"$3\" = dewiki ] && exit 4\n"
                                "printf 'date\\tn\\n%s\\t1\\n' \"$1\"\n"})
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02")
    assert result.code == 1
    assert ("report 'r' (wiki=dewiki) interval 2026-11-01..2026-11-02: script r exited "
            "with status 4") in result.err
    assert (tmp_path / "out/r/enwiki.tsv").exists()
    assert not (tmp_path / "out/r/dewiki.tsv").exists()


def test_report_option_restricts_the_run(make_folder, tmp_path, run_cli):
    folder = make_folder("""
        reports:
            a: {type: script, granularity: days, starts: 2026-11-01, execute: s}
            b: {type: script, granularity: days, starts: 2026-11-01, execute: s}
        """, executables={"s": ECHO})
    assert run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02", "-r", "b").code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b.tsv"]


def test_group_is_applied_to_output_files(make_folder, tmp_path, run_cli):
    import grp
    group = grp.getgrgid(os.getgid() if os.getgid() != 0 else 1)  # e.g. "daemon"
    folder = script_folder(make_folder, extra=f"group: {group.gr_name}")
    assert run_cli("run", folder, tmp_path / "out", "--now", "2026-11-02").code == 0
    assert (tmp_path / "out/r.tsv").stat().st_gid == group.gr_gid


def test_rerun_without_reports_names_every_report(make_folder, run_cli):
    folder = make_folder("""
        reports:
            a: {type: script, granularity: days, starts: 2026-11-01, execute: s}
            b: {type: script, granularity: days, starts: 2026-11-01, execute: s}
        """, executables={"s": ECHO})
    result = run_cli("rerun", folder, "2026-11-01", "2026-11-02", "--now", "2026-11-05")
    assert result.code == 0
    (request,) = (folder / ".reruns").iterdir()
    assert request.read_text() == "2026-11-01\n2026-11-02\na\nb\n"


def test_an_unparseable_rerun_request_is_kept_with_a_warning(make_folder, tmp_path, run_cli):
    folder = script_folder(make_folder)
    (folder / ".reruns").mkdir()
    (folder / ".reruns" / "broken").write_text("last tuesday\n2026-11-02\nr\n")
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-03")
    assert result.code == 0
    assert "ignoring rerun request (the file is kept)" in result.err
    assert "'last tuesday' is not a date" in result.err
    assert (folder / ".reruns" / "broken").exists()


def test_a_failed_rerun_keeps_its_request(make_folder, tmp_path, run_cli):
    folder = script_folder(make_folder, "#!/bin/sh\nprintf 'date\\tn\\n%s\\t1\\n' \"$1\"\n")
    out = tmp_path / "out"
    assert run_cli("run", folder, out, "--now", "2026-11-03").code == 0
    assert run_cli("rerun", folder, "2026-11-01", "2026-11-02", "--now", "2026-11-03").code == 0
    (folder / "r").write_text("#!/bin/sh\nexit 1\n")
    assert run_cli("run", folder, out, "--now", "2026-11-03").code == 1
    assert len(list((folder / ".reruns").iterdir())) == 1
    assert read_tsv(out / "r.tsv")[1] == ["2026-11-01", "1"]  # the old row is kept
    (folder / "r").write_text("#!/bin/sh\nprintf 'date\\tn\\n%s\\t2\\n' \"$1\"\n")
    assert run_cli("run", folder, out, "--now", "2026-11-03").code == 0
    assert list((folder / ".reruns").iterdir()) == []
    assert read_tsv(out / "r.tsv")[1:] == [["2026-11-01", "2"], ["2026-11-02", "1"]]
