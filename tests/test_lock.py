"""Runs that can't hang silently: max_run_seconds, the lock's holder, stuck runs."""

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO, read_tsv, run_subprocess
from reportupdater.config import load_config
from reportupdater.lock import RunDeadline, current_holder, run_lock
from reportupdater.pipeline import Runner, RunOptions

SCRIPT = "#!/bin/sh\nprintf 'date\\tn\\n%s\\t1\\n' \"$1\"\n"
REPORT = """
reports:
    r: {type: script, granularity: days, starts: 2026-11-01}
"""


def test_max_run_seconds_defaults_to_six_hours(make_folder):
    config = load_config(make_folder(REPORT, executables={"r": SCRIPT}))
    assert config.max_run_seconds == 21600
    assert config.problems == ()


def test_max_run_seconds_is_read(make_folder):
    config = load_config(make_folder("max_run_seconds: 90\n" + REPORT,
                                     executables={"r": SCRIPT}))
    assert config.max_run_seconds == 90


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "true", "six hours"])
def test_a_bad_max_run_seconds_is_an_error_naming_the_value(make_folder, value):
    folder = make_folder(f"max_run_seconds: {value}\n" + REPORT, executables={"r": SCRIPT})
    config = load_config(folder)
    shown = {"true": "True", "1.5": "1.5", "six hours": "'six hours'"}.get(value, value)
    assert [str(p) for p in config.errors] == [
        f"{folder}/config.yaml:1, key 'max_run_seconds': 'max_run_seconds' must be a whole "
        f"number of seconds >= 1, not {shown}"]
    assert config.max_run_seconds == 21600


# -- a run stops itself at max_run_seconds ----------------------------------------

# Quick for 11-01 and 11-02; from 11-03 on it leaves a mark and sleeps (until killed).
SLEEPY = """\
#!/bin/sh
case "$1" in
    2026-11-0[12]) printf 'date\\tn\\n%s\\t1\\n' "$1" ;;
    *) touch "$(dirname "$0")/started-$1"; exec sleep 60 ;;
esac
"""


@pytest.mark.parametrize("jobs, sleeping, not_run", [
    (1, ["2026-11-03"], ["2026-11-04", "2026-11-05"]),
    (2, ["2026-11-03", "2026-11-04"], ["2026-11-05"]),  # both workers asleep
])
def test_a_run_past_max_run_seconds_stops_and_writes_what_finished(
        make_folder, tmp_path, caplog, jobs, sleeping, not_run):
    folder = make_folder(REPORT, executables={"r": SLEEPY})
    config = load_config(folder)
    marks = [folder / f"started-{date}" for date in sleeping]
    # The clock passes the limit once the sleeping intervals have started.
    clock = lambda: 10.0 ** 9 if all(m.exists() for m in marks) else 0.0  # noqa: E731
    out = tmp_path / "out"
    options = RunOptions(output_folder=out, now=dt.datetime(2026, 11, 6), jobs=jobs,
                         clock=clock)
    summary = Runner(config, options).run()
    assert summary.stopped_by_time_limit and not summary.interrupted
    assert read_tsv(out / "r.tsv") == [["date", "n"], ["2026-11-01", "1"], ["2026-11-02", "1"]]
    limit = "the run passed max_run_seconds (21600 s)"
    assert [f.describe() for f in summary.failures] == [
        *(f"report 'r' interval {date}..2026-11-0{int(date[-1]) + 1}: stopped: {limit}: "
          "script r was killed by signal 9: (no stderr)" for date in sleeping),
        f"report 'r' interval {not_run[0]}..2026-11-0{int(not_run[0][-1]) + 1}: not run: "
        f"{limit}; {len(not_run)} interval(s) of this report are left for the next run"]
    assert summary.backlog == {"r": len(sleeping) + len(not_run)}
    assert (f"{limit}: stopping its queries and scripts; what has finished is written, the "
            "rest is left for the next run") in caplog.messages


def test_the_command_exits_1_naming_the_limit(make_folder, tmp_path):
    folder = make_folder("max_run_seconds: 1\n" + REPORT,
                         executables={"r": "#!/bin/sh\nexec sleep 60\n"})
    out = tmp_path / "out"
    result = run_subprocess("run", str(folder), str(out), "--now", "2026-11-03", "--jobs", "1",
                            timeout=60)
    assert result.returncode == 1, result.stderr
    assert ("the run passed max_run_seconds (1 s): stopping its queries and scripts; what "
            "has finished is written, the rest is left for the next run") in result.stderr
    assert ("report 'r' interval 2026-11-01..2026-11-02: stopped: the run passed "
            "max_run_seconds (1 s): script r was killed by signal 9") in result.stderr
    assert ("report 'r' interval 2026-11-02..2026-11-03: not run: the run passed "
            "max_run_seconds (1 s); 1 interval(s) of this report are left for the next "
            "run") in result.stderr
    status = run_subprocess("status", str(folder), str(out), "--format", "json",
                            "--now", "2026-11-03")
    (report,) = json.loads(status.stdout)["reports"]
    assert report["last_failure"]["error"].startswith("not run: the run passed")
    assert status.returncode == 1


def test_the_deadline_waits_for_its_clock():
    now, reads, stops = [0.0], [], []

    def clock():
        reads.append(now[0])
        return now[0]

    with RunDeadline(10, lambda: stops.append(now[0]), clock=clock, poll=0.01) as deadline:
        now[0] = 9.5
        wait_until(lambda: reads.count(9.5) >= 3)  # it has looked, and not stopped
        assert not deadline.expired and stops == []
        now[0] = 10.5
        wait_until(lambda: len(stops) >= 2)  # and it goes on stopping until the end
    assert deadline.expired and set(stops) == {10.5}


def wait_until(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.01)


# -- the lock's holder, and stuck runs ------------------------------------------------


def test_the_lock_file_names_its_holder(make_folder):
    folder = make_folder(REPORT, executables={"r": SCRIPT})
    with run_lock(folder) as holder:
        record = json.loads((folder / ".lock").read_text())
        assert record == {"pid": os.getpid(), "host": socket.gethostname(),
                          "started": holder.describe().rsplit(" ", 1)[1]}
        assert current_holder(folder) == holder
    assert current_holder(folder) is None


@pytest.fixture
def holding_run(make_folder, tmp_path):
    """A real run that holds its query folder's lock (its script sleeps)."""
    folder = make_folder("max_run_seconds: 3600\n" + REPORT,
                         executables={"r": "#!/bin/sh\nexec sleep 60\n"})
    process = subprocess.Popen([sys.executable, "-m", "reportupdater", "run", str(folder),
                                str(tmp_path / "out"), "--now", "2026-11-03"], cwd=REPO,
                               stderr=subprocess.DEVNULL)
    wait_until(lambda: current_holder(folder) is not None
               and current_holder(folder).pid == process.pid)
    yield folder, process
    process.terminate()  # as SIGTERM does: its script is killed too
    process.wait(timeout=30)


def test_a_later_run_exits_0_then_5_when_the_holder_is_stuck(holding_run, tmp_path):
    folder, process = holding_run
    holder = current_holder(folder)
    lock = f"{folder}/.lock"
    result = run_subprocess("run", str(folder), str(tmp_path / "other"), "--now", "2026-11-03")
    assert result.returncode == 0, result.stderr
    assert (f"another run (pid {process.pid}) holds {lock}, since "
            f"{holder.describe().rsplit(' ', 1)[1]} on host {socket.gethostname()}; this run "
            "exits without doing anything") in result.stderr
    # The limit is now shorter than the holder has run: poll until it has run longer.
    config = folder / "config.yaml"
    config.write_text(config.read_text().replace("max_run_seconds: 3600", "max_run_seconds: 1"))
    wait_until(lambda: run_subprocess("run", str(folder), str(tmp_path / "other")).returncode
               != 0)
    result = run_subprocess("run", str(folder), str(tmp_path / "other"))
    assert result.returncode == 5, result.stderr
    message = re.search(r"ERROR (.*)", result.stderr).group(1)
    assert re.fullmatch(
        rf"another run \({re.escape(holder.describe())}\) has held {re.escape(lock)} for "
        r"\d+:\d\d:\d\d, longer than max_run_seconds \(1 s\): it looks stuck\. Check that "
        r"process and kill it if it is hung; its lock goes with it", message), message
    assert not (tmp_path / "other").exists()
    assert process.poll() is None  # the stuck run is left alone


def test_status_shows_the_run_in_progress_and_since_when(holding_run, tmp_path):
    folder, process = holding_run
    holder = current_holder(folder)
    started = holder.describe().rsplit(" ", 1)[1]
    result = run_subprocess("status", str(folder), str(tmp_path / "out"), "--format", "json")
    document = json.loads(result.stdout)
    seconds = document["run_in_progress"].pop("seconds")
    assert isinstance(seconds, int) and seconds >= 0
    assert document["run_in_progress"] == {"pid": process.pid, "host": socket.gethostname(),
                                           "started": started, "stuck": False}
    table = run_subprocess("status", str(folder), str(tmp_path / "out"))
    assert re.search(rf"\n\nRun in progress: pid {process.pid} on host "
                     rf"{re.escape(socket.gethostname())}, started {started} "
                     r"\(for \d+:\d\d:\d\d\)\n$", table.stdout), table.stdout
    # Past max_run_seconds it says so, and status fails.
    config = folder / "config.yaml"
    config.write_text(config.read_text().replace("max_run_seconds: 3600", "max_run_seconds: 1"))
    wait_until(lambda: json.loads(run_subprocess(
        "status", str(folder), str(tmp_path / "out"), "--format", "json").stdout
    )["run_in_progress"]["stuck"])
    table = run_subprocess("status", str(folder), str(tmp_path / "out"))
    assert table.returncode == 1
    assert re.search(r"\(for \d+:\d\d:\d\d\); longer than max_run_seconds \(1 s\): it looks "
                     r"stuck\n$", table.stdout), table.stdout
