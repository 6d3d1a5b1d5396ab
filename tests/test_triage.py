"""Triage: coverages match the dates in the files, and the cache never outlives a change."""

import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
import zlib
from functools import reduce
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from conftest import REPO, read_tsv
from reportupdater import timeline as tl
from reportupdater.config import ReportConfig, Template
from reportupdater.errors import GranularityError, TimelineError
from reportupdater.intervals import Granularity, Interval
from reportupdater.results import IntervalRows
from reportupdater.schedule import missing_intervals
from reportupdater.triage import CACHE_NAME, Coverage, TriageCache, coverage_of

D = dt.datetime
DAYS = Granularity.DAYS


def report(granularity: Granularity, starts: dt.datetime) -> ReportConfig:
    return ReportConfig(key="r", type="sql", granularity=granularity, starts=starts, lag=0,
                        execute="r", template=Template(Path("r.sql"), "format", "sql", ""))


@pytest.mark.parametrize("granularity", list(Granularity))
def test_coverages_plan_exactly_what_label_sets_plan(granularity):
    rng = random.Random(granularity.value)
    g = granularity
    starts = D(2025, 1, 1, 0)
    now = D(2026, 3, 1, 5) if g is not Granularity.HOURS else D(2025, 1, 20, 7)
    r = report(g, starts)
    expected = [i.label for i in missing_intervals(r, now, set())]
    for _ in range(30):
        done = {label for label in expected if rng.random() < 0.8}
        done |= {"2024-12-31", "2025-01-03"}  # outside the window; mid-week for weeks
        reruns = [(D(2025, 1, 1) + dt.timedelta(days=rng.randrange(400),
                                                hours=rng.randrange(24)),) * 2]
        reruns = [(a, a + dt.timedelta(hours=rng.randrange(1, 24 * 40))) for a, _ in reruns]
        labels = sorted(done) if rng.random() < 0.5 else list(done)
        coverage = Coverage.from_labels(labels, g)
        for ranges in ((), reruns):
            assert (list(missing_intervals(r, now, coverage, ranges))
                    == list(missing_intervals(r, now, done, ranges)))


def test_a_complete_file_costs_no_interval_walk():
    r = report(Granularity.HOURS, D(1970, 1, 1))
    done = Coverage(Granularity.HOURS, [(0, 10**9)])  # ~114,000 years of hours
    assert list(missing_intervals(r, D(2026, 11, 23), done)) == []


@pytest.mark.parametrize("text", [
    "date\tn\n2026-11-01\t1\n2026-11-02\t2\n2026-11-03\t3\n",  # the common case
    "date\tn\r\n2026-11-01\t1\r\n2026-11-03\t3\r\n",  # CRLF, a gap
    "date\n2026-11-01\n2026-11-02",  # one column, no final newline
    "date\tn\n2026-11-02\t1\n2026-11-01\t2\n\n2026-11-02\t3\n",  # unsorted, repeated, blank
    'date\tn\n2026-11-01\t"a\tb"\n2026-11-04\t"multi\nline"\n',  # quoted fields
    "date\tn\n",  # header only
])
def test_the_label_column_reads_like_the_whole_file(tmp_path, text):
    path = tmp_path / "r.tsv"
    path.write_text(text)
    full = tl.read_timeline(path, DAYS)
    assert coverage_of(path.read_bytes(), path, DAYS) == Coverage.from_labels(
        sorted(full.rows), DAYS)
    assert tl.read_labels(path, DAYS) == set(full.rows)


def _contiguous_file(granularity: Granularity, rows: int, columns: int) -> bytes:
    start = granularity.start_of(granularity.index(D(2024, 2, 27, 22)))
    moments = [start]
    while len(moments) < rows:
        moments.append(granularity.add(moments[-1]))
    lines = ["\t".join(["date"] + [f"c{i}" for i in range(columns)])]
    lines += ["\t".join([granularity.format(m)] + [str(n * 7 + i) for i in range(columns)])
              for n, m in enumerate(moments)]
    return ("\n".join(lines) + "\n").encode()


_EDITS = st.sampled_from(["none", "drop row", "repeat row", "swap rows", "drop tab", "add tab",
                          "truncate row", "digit in label", "space after label", "blank line",
                          "no final newline", "crlf", "bare cr", "quote", "label only"])


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.sampled_from(list(Granularity)), st.integers(1, 40), st.integers(0, 3), _EDITS,
       st.integers(0, 10**6))
def test_the_row_fast_path_reads_like_the_whole_file(granularity, rows, columns, edit, at):
    """Whatever a file of consecutive rows is turned into, its coverage is the one
    the full parse gives, or both refuse it."""
    lines = _contiguous_file(granularity, rows, columns).split(b"\n")[:-1]
    i = 1 + at % rows  # a data line
    if edit == "drop row" and rows > 1:
        del lines[i]
    elif edit == "repeat row":
        lines.insert(i, lines[i])
    elif edit == "swap rows" and rows > 1:
        j = 1 + (i % rows)
        lines[i], lines[j] = lines[j], lines[i]
    elif edit == "drop tab" and columns:
        lines[i] = lines[i].replace(b"\t", b"", 1)
    elif edit == "add tab":
        lines[i] += b"\t"
    elif edit == "truncate row" and columns:
        lines[i] = lines[i].rpartition(b"\t")[0]
    elif edit == "digit in label":
        lines[i] = lines[i][:3] + b"7" + lines[i][4:]
    elif edit == "space after label":
        lines[i] = lines[i].replace(b"\t", b" \t", 1)
    elif edit == "blank line":
        lines.insert(i, b"")
    elif edit == "quote":
        lines[i] += b'"'
    elif edit == "label only":
        lines[i] = lines[i].partition(b"\t")[0]
    data = b"\n".join(lines) + b"\n"
    if edit == "no final newline":
        data = data[:-1]
    elif edit == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif edit == "bare cr":
        data = data.replace(b"\n", b"\r", 1)
    path = Path("r.tsv")
    try:
        timeline = tl.parse_timeline(data.decode(), path, granularity)
        labels = sorted(timeline.rows) if timeline else []
        tl.check_granularity(path, labels, granularity, None)
        expected = Coverage.from_labels(labels, granularity)
    except TimelineError:
        with pytest.raises(TimelineError):
            coverage_of(data, path, granularity)
    else:
        assert coverage_of(data, path, granularity) == expected


def test_a_bad_date_is_reported_with_its_line(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("date\tn\n2026-11-01\t1\n2026-02-30\t2\n")
    with pytest.raises(TimelineError, match=r"r\.tsv:3: first column '2026-02-30' is not a"):
        coverage_of(path.read_bytes(), path, DAYS)


def test_batched_merges_equal_merging_one_result_at_a_time():
    rng = random.Random(3)
    columns = ["a", "b", "c", "d"]
    current = tl.Timeline(["date", "a", "b"], {
        f"2026-10-{d:02d}": [[f"2026-10-{d:02d}", str(d), "x"]] for d in range(1, 20, 2)})
    results = []
    for d in rng.sample(range(1, 31), 20):
        header = ["date"] + rng.sample(columns, rng.randrange(1, 4))
        label = f"2026-10-{d:02d}"
        rows = tuple((label,) + tuple(f"{c}{d}{i}" for c in header[1:])
                     for i in range(rng.randrange(0, 3)))
        results.append(IntervalRows(Interval(D(2026, 10, d), DAYS), tuple(header), rows))
    one_by_one = reduce(lambda timeline, result: tl.merge(timeline, [result]), results,
                        current)
    assert tl.render(tl.merge(current, results)) == tl.render(one_by_one)


# -- the cache, through the real command ---------------------------------------

COUNTER = """\
#!/bin/sh
# one row per day, and a line per execution in a log beside the script
echo "$1" >> "$3/executed"
printf 'date\\tn\\n%s\\t1\\n' "$1"
"""


@pytest.fixture
def counted(make_folder, tmp_path, run_cli, monkeypatch):
    """A complete timeline, its cache written; run() executes and returns the dates run.

    Entries settle at once (runs take a settle time of 0, not 2 s): no test waits
    on the clock.
    """
    monkeypatch.setattr(TriageCache, "settled_ns", 0)
    folder = make_folder("""
        reports:
            r: {type: script, granularity: days, starts: 2026-10-01}
        """, executables={"r": COUNTER})
    out = tmp_path / "out"

    def run() -> list[str]:
        log = folder / "executed"
        log.unlink(missing_ok=True)
        result = run_cli("run", folder, out, "--now", "2026-11-01")
        assert result.code == 0, result.err
        return log.read_text().split() if log.exists() else []

    assert len(run()) == 31
    assert run() == []
    assert (folder / CACHE_NAME).exists()
    return folder, out / "r.tsv", run


def test_an_edit_that_keeps_size_and_mtime_is_seen(counted):
    folder, path, run = counted
    text = path.read_text()
    st = os.stat(path)
    path.write_text(text.replace("2026-10-17\t1", "2026-10-16\t1"))  # a gap, same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime
    assert os.stat(path).st_size == st.st_size
    assert run() == ["2026-10-17"]
    assert [r[0] for r in read_tsv(path)[1:]].count("2026-10-17") == 1


def test_a_replaced_file_is_seen(counted):
    folder, path, run = counted
    other = path.with_name("other.tsv")
    other.write_text(path.read_text().replace("2026-10-03\t1", "2026-10-02\t1"))
    os.replace(other, path)
    assert run() == ["2026-10-03"]


@pytest.mark.parametrize("damage", [
    lambda data: data[: len(data) // 2],  # truncated
    lambda data: b"\0" * len(data),  # zeroed by a crash
    lambda data: data.replace(b'[[', b'[[1', 1),  # edited, checksum now wrong
    lambda data: b"not a cache",
])
def test_a_damaged_cache_is_ignored(counted, damage):
    folder, path, run = counted
    cache = folder / CACHE_NAME
    path.write_text(path.read_text().replace("2026-10-09\t1\n", ""))  # a real gap
    cache.write_bytes(damage(cache.read_bytes()))
    assert run() == ["2026-10-09"]
    assert run() == []  # and a good cache was written again


def test_an_unsettled_entry_is_trusted_only_if_the_content_matches(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("date\tn\n2026-11-01\t1\n2026-11-03\t1\n")
    cache = TriageCache(tmp_path / CACHE_NAME)
    claimed = Coverage(DAYS, [(D(2026, 11, 1).toordinal(), D(2026, 11, 3).toordinal())])
    # An entry taken in the same tick as the last change: identity alone can't vouch.
    cache.record(path, os.stat(path), time.time_ns(), zlib.crc32(b"other content"), claimed)
    assert cache.coverage(path, DAYS) == Coverage.from_labels(["2026-11-01", "2026-11-03"],
                                                              DAYS)
    # With the right CRC the same entry is believed.
    cache.record(path, os.stat(path), time.time_ns(), zlib.crc32(path.read_bytes()),
                 claimed)
    assert cache.coverage(path, DAYS) == claimed


def test_an_entry_survives_only_with_the_same_granularity(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("date\tn\n2026-11-01 05:00:00\t1\n")
    cache = TriageCache(tmp_path / CACHE_NAME)
    assert len(cache.coverage(path, Granularity.HOURS)) == 1
    with pytest.raises(GranularityError, match=r"r\.tsv was written for granularity hours "
                       r"\(line 2 is dated 2026-11-01 05:00:00\), but the report's "
                       "granularity is now days"):
        cache.coverage(path, DAYS)


def test_the_cache_lives_in_the_query_folder_not_the_output(counted):
    folder, path, run = counted
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.tsv"]
    entries = json.loads((folder / CACHE_NAME).read_bytes().split(b"\n", 1)[1])
    assert list(entries) == [str(path)]


def test_a_no_op_run_imports_no_driver_and_no_jinja(make_folder, tmp_path):
    # (A .j2 template would load jinja2: the config check parses it.)
    folder = make_folder("""
        databases:
            d: {host: 127.0.0.1, port: 1, db: nothing}
            e: {engine: duckdb}
        reports:
            r: {db: d, granularity: days, starts: 2026-10-30}
            s: {db: e, granularity: days, starts: 2026-10-30, execute: r}
        """, files={"r.sql": "SELECT '{from_date}' AS date"})
    out = tmp_path / "out"
    out.mkdir()
    for name in ("r", "s"):
        (out / f"{name}.tsv").write_text("date\n2026-10-30\n2026-10-31\n")
    code = ("import sys; from reportupdater import cli; code = cli.main(['run', "
            f"{str(folder)!r}, {str(out)!r}, '--now', '2026-11-01', '--no-graphite']); "
            "print(code, sorted(m for m in ('pymysql', 'duckdb', 'jinja2', 'pyhive') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True)
    assert result.stdout.split("\n")[0] == "0 []", result.stderr


def test_temp_files_of_killed_runs_are_removed_on_the_next_write(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".r.tsv.{dead.pid}.140000000000.tmp"
    alive = tmp_path / f".r.tsv.{os.getppid()}.140000000000.tmp"  # still writing
    stale.write_text("half a fi")
    alive.write_text("half a fi")
    tl.write_timeline(tmp_path / "r.tsv", tl.Timeline(["date"], {"2026-11-01": [["2026-11-01"]]}))
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name, "r.tsv"]


def test_new_days_are_appended_only_to_files_as_this_tool_wrote_them(make_folder, tmp_path,
                                                                     run_cli):
    folder = make_folder("""
        reports:
            r: {type: script, granularity: days, starts: 2026-10-01}
        """, executables={"r": COUNTER})

    def run(out: Path, now: str) -> None:
        assert run_cli("run", folder, out, "--now", now).code == 0

    for name in ("appended", "edited", "straight"):
        if name != "straight":
            run(tmp_path / name, "2026-10-10")
    edited = tmp_path / "edited/r.tsv"
    edited.write_bytes(edited.read_bytes().replace(b"\n", b"\r\n"))  # as the original wrote
    for name in ("appended", "edited", "straight"):
        run(tmp_path / name, "2026-10-12")
    straight = (tmp_path / "straight/r.tsv").read_bytes()
    assert (tmp_path / "appended/r.tsv").read_bytes() == straight
    assert edited.read_bytes() == straight  # merged in full: no CRLF left


def test_the_settle_time_is_two_seconds_unless_given():
    assert TriageCache("c").settled_ns == 2_000_000_000
    assert TriageCache("c", settled_ns=5).settled_ns == 5


def test_an_entry_is_trusted_by_identity_once_settled(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("date\tn\n2026-11-01\t1\n")
    claimed = Coverage(DAYS, [(1, 2)])  # not what the file says: only trusted unread
    st = os.stat(path)
    for settled_ns, trusted in ((10**12, False), (0, True)):
        cache = TriageCache(tmp_path / CACHE_NAME, settled_ns=settled_ns)
        cache.record(path, st, st.st_ctime_ns + 1, 0, claimed)
        assert (cache.coverage(path, DAYS) == claimed) is trusted


def test_temp_files_of_killed_runs_are_removed_beside_the_cache(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = [f"..reportupdater-triage.{dead.pid}.tmp",  # as earlier versions named them
             f"..reportupdater-triage.{dead.pid}.140000000000.tmp",
             f"..reportupdater-triage.{os.getppid()}.tmp"]  # alive: still writing
    for name in names:
        (tmp_path / name).write_text("half a ca")
    cache = TriageCache(tmp_path / CACHE_NAME)
    cache.forget(tmp_path / "r.tsv")
    cache.record(tmp_path / "r.tsv", os.stat(tmp_path), 0, 0, Coverage(DAYS))
    cache.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == [names[2], CACHE_NAME]
