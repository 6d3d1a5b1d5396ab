"""TSV timelines: header evolution, replacement, trimming, atomic writes."""

import datetime as dt
import os
import stat

import pytest
from hypothesis import given, settings, strategies as st

from reportupdater import timeline as tl
from reportupdater.errors import TimelineError
from reportupdater.intervals import Granularity, Interval
from reportupdater.results import IntervalRows

DAYS = Granularity.DAYS


def rows(day, header, *data):
    interval = Interval(dt.datetime(2026, 11, day), DAYS)
    return IntervalRows(interval, tuple(header), tuple(tuple(r) for r in data))


def write(path, text):
    path.write_text(text)
    return path


def test_new_columns_are_added_and_vanished_ones_kept_at_the_end(tmp_path):
    path = write(tmp_path / "r.tsv",
                 "date\tb\tz\ta\n2026-11-01\t1\t9\t2\n2026-11-02\t3\t8\t4\n")
    old = tl.read_timeline(path, DAYS)
    merged = tl.merge(old, [rows(3, ["date", "c", "a"], ["2026-11-03", "5", "6"])])
    tl.write_timeline(path, merged)
    assert path.read_text() == (
        "date\tc\ta\tb\tz\n"
        "2026-11-01\t\t2\t1\t9\n"
        "2026-11-02\t\t4\t3\t8\n"
        "2026-11-03\t5\t6\t\t\n")


def test_the_first_column_stays_the_date_when_renamed(tmp_path):
    path = write(tmp_path / "r.tsv", "date\tn\n2026-11-01\t1\n")
    merged = tl.merge(tl.read_timeline(path, DAYS), [rows(2, ["day", "n"], ["2026-11-02", "2"])])
    assert merged.header == ["day", "n"]
    assert tl.render(merged) == "day\tn\n2026-11-01\t1\n2026-11-02\t2\n"


def test_several_rows_per_date_keep_their_order_and_are_replaced_together(tmp_path):
    path = write(tmp_path / "r.tsv", "date\tk\tn\n2026-11-01\tb\t1\n2026-11-01\ta\t2\n"
                                      "2026-11-02\tz\t3\n")
    merged = tl.merge(tl.read_timeline(path, DAYS),
                      [rows(1, ["date", "k", "n"], ["2026-11-01", "y", "7"],
                            ["2026-11-01", "x", "8"])])
    assert tl.render(merged) == ("date\tk\tn\n2026-11-01\ty\t7\n2026-11-01\tx\t8\n"
                                 "2026-11-02\tz\t3\n")


def test_rows_are_written_sorted_by_date_and_none_is_empty(tmp_path):
    merged = tl.merge(None, [rows(5, ["date", "n"], ["2026-11-05", ""]),
                             rows(2, ["date", "n"], ["2026-11-02", "x\ty"])])
    path = tmp_path / "r.tsv"
    tl.write_timeline(path, merged)
    assert path.read_text() == 'date\tn\n2026-11-02\t"x\ty"\n2026-11-05\t\n'
    # A quoted field round-trips, and the fast date reader copes with it.
    assert tl.read_timeline(path, DAYS).rows["2026-11-02"] == [["2026-11-02", "x\ty"]]
    assert tl.read_labels(path, DAYS) == {"2026-11-02", "2026-11-05"}


def test_trim_before_drops_old_rows():
    merged = tl.merge(None, [rows(d, ["date", "n"], [f"2026-11-0{d}", str(d)])
                             for d in (1, 2, 3)])
    assert tl.trim_before(merged, "2026-11-02") == 1
    assert sorted(merged.rows) == ["2026-11-02", "2026-11-03"]


def test_reads_files_written_by_the_original_with_crlf(tmp_path):
    path = write(tmp_path / "r.tsv", "")
    path.write_bytes(b"date\tn\r\n2016-01-01\t5\r\n2016-01-02\t6\r\n")
    assert tl.read_labels(path, DAYS) == {"2016-01-01", "2016-01-02"}
    assert tl.read_timeline(path, DAYS).rows["2016-01-02"] == [["2016-01-02", "6"]]


def test_a_corrupt_date_is_an_error_naming_file_and_line(tmp_path):
    path = write(tmp_path / "r.tsv", "date\tn\n2026-11-01\t1\nnot-a-date\t2\n")
    with pytest.raises(TimelineError, match=r"r\.tsv:3: first column 'not-a-date'"):
        tl.read_timeline(path, DAYS)
    with pytest.raises(TimelineError, match="not-a-date"):
        tl.read_labels(path, DAYS)


def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = write(tmp_path / "r.tsv", "date\tn\n2026-11-01\t1\n")
    merged = tl.merge(tl.read_timeline(path, DAYS), [rows(2, ["date", "n"], ["2026-11-02", "2"])])

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(TimelineError, match="No space left on device"):
        tl.write_timeline(path, merged)
    assert path.read_text() == "date\tn\n2026-11-01\t1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.tsv"]  # no temp file left


def test_hourly_labels(tmp_path):
    path = write(tmp_path / "h.tsv", "date\tn\n2026-11-01 05:00:00\t1\n")
    assert tl.read_labels(path, Granularity.HOURS) == {"2026-11-01 05:00:00"}
    with pytest.raises(TimelineError):
        tl.read_labels(path, DAYS)


# -- the dialect: what is read is what was written, or a refusal ---------------

def timeline_of(header, rows, granularity=DAYS):
    grouped = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(list(row))
    return tl.Timeline(list(header), grouped, granularity)


@pytest.mark.parametrize("raw, value", [
    ('"U1', '"U1'),  # a stray quote: the rows after it are not one value
    ('"q" U1', '"q" U1'),  # a quoted word
    ('"q"', '"q"'),  # quotes around what needs none: the original's, literal
    ('a"b', 'a"b'),
    ('"a\tb"', "a\tb"),  # as this tool quotes a tab
    ('"say ""hi"""', 'say "hi"'),  # and a quote
])
def test_a_value_is_read_as_written(tmp_path, raw, value):
    path = write(tmp_path / "r.tsv", f"date\tn\n2026-11-01\t{raw}\n2026-11-02\tU2\n")
    timeline = tl.read_timeline(path, DAYS)
    assert timeline.rows == {"2026-11-01": [["2026-11-01", value]],
                             "2026-11-02": [["2026-11-02", "U2"]]}
    assert tl.read_labels(path, DAYS) == {"2026-11-01", "2026-11-02"}
    # Rewritten in the one quoting rule, it reads back the same.
    tl.write_timeline(path, timeline)
    assert tl.read_timeline(path, DAYS).rows == timeline.rows


def test_ordinary_values_are_written_as_they_are(tmp_path):
    timeline = timeline_of(["date", "n", "s"], [("2026-11-01", "1", " a b,c\\d ")])
    assert tl.render(timeline) == "date\tn\ts\n2026-11-01\t1\t a b,c\\d \n"
    # A carriage return is quoted, like a line feed, so it can't end a row.
    assert tl.render(timeline_of(["date", "n"], [("2026-11-01", "a\rb")])) == (
        'date\tn\n2026-11-01\t"a\rb"\n')


dates = st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)).map(str)
values = st.text(max_size=8) | st.sampled_from(['"', '""', '"a"', "\t", "\r\n", "\r", "\n"])


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.integers(1, 4).flatmap(lambda width: st.tuples(
    st.lists(values, min_size=width, max_size=width).filter(lambda h: h != [""]),
    st.lists(st.tuples(dates, *[values] * (width - 1)), max_size=6))))
def test_reading_inverts_writing(header_and_rows):
    header, rows = header_and_rows
    timeline = timeline_of(header, rows)
    text = tl.render(timeline)
    read = tl.parse_timeline(text, "r.tsv", DAYS)
    assert (read.header, read.rows) == (timeline.header, timeline.rows)
    assert tl.render(read) == text
    data = text.encode()
    assert tl.labels_of(data, "r.tsv", DAYS) == set(timeline.rows)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.tuples(dates, st.text(st.characters(exclude_characters="\t\n\r"),
                                         max_size=6)), min_size=1, max_size=6))
def test_a_file_written_without_quoting_keeps_its_values(rows):
    # As the original wrote: tab-joined, quotes and all.
    text = "date\tv\n" + "".join(f"{d}\t{v}\n" for d, v in rows)
    read = tl.parse_timeline(text, "r.tsv", DAYS)
    assert sorted(read.rows) == sorted({d for d, _ in rows})
    for d, v in rows:  # literally, unless it is quoted as this tool quotes
        if not (len(v) > 1 and v[0] == v[-1] == '"'):
            assert [d, v] in read.rows[d]
    again = tl.parse_timeline(tl.render(read), "r.tsv", DAYS)
    assert again.rows == read.rows


@pytest.mark.parametrize("data, line", [
    (b"date\tn\r2026-11-01\t1\r2026-11-02\t2\r", 1),  # CR-only line ends
    (b"date\tn\n2026-11-01\t1\r2026-11-02\t2\n", 2),
    (b'date\tn\n2026-11-01\t"q"\n2026-11-02\t2\r3\n', 3),  # with quotes elsewhere
])
def test_a_carriage_return_ending_no_line_is_refused(tmp_path, data, line):
    path = tmp_path / "r.tsv"
    path.write_bytes(data)
    message = (rf"r\.tsv:{line}: a carriage return that ends no line \(CR-only line "
               r"ends\?\); rows must end with LF or CRLF")
    with pytest.raises(TimelineError, match=message):
        tl.read_timeline(path, DAYS)
    with pytest.raises(TimelineError, match=message):
        tl.read_labels(path, DAYS)


@pytest.mark.parametrize("text, line", [
    ("date\tn\tm\n2026-11-01\t1\t2\n2026-11-02\t3\n", 3),
    ("date\tn\tm\n2026-11-01\t1\n2026-11-02\t3\t4\n", 2),
    ('date\tn\tm\n2026-11-01\t"a\tb"\t2\n2026-11-02\n', 3),
])
def test_a_truncated_row_is_refused(tmp_path, text, line):
    path = write(tmp_path / "r.tsv", text)
    message = rf"r\.tsv:{line}: \d fields but the header has 3 \(a truncated row\?\)"
    with pytest.raises(TimelineError, match=message):
        tl.read_timeline(path, DAYS)
    with pytest.raises(TimelineError, match=message):
        tl.read_labels(path, DAYS)


@pytest.mark.parametrize("mode", [0o444, 0o600, 0o640])
@pytest.mark.parametrize("how", ["rewrite", "append"])
def test_a_rewritten_file_keeps_its_mode(tmp_path, mode, how):
    path = write(tmp_path / "r.tsv", "date\tn\n2026-11-01\t1\n")
    path.chmod(mode)
    later = tl.merge(None, [rows(2, ["date", "n"], ["2026-11-02", "2"])])
    if how == "rewrite":
        tl.write_timeline(path, tl.merge(tl.read_timeline(path, DAYS), [
            rows(2, ["date", "n"], ["2026-11-02", "2"])]))
    else:
        tl.append_timeline(path, path.read_bytes(), later)
    assert path.read_text() == "date\tn\n2026-11-01\t1\n2026-11-02\t2\n"
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_the_granularity_is_recorded_with_the_file(tmp_path):
    path = tmp_path / "r.tsv"
    tl.write_timeline(path, tl.merge(None, [rows(1, ["date", "n"], ["2026-11-01", "1"])]))
    assert tl.recorded_granularity(path) is DAYS
    assert os.getxattr(path, "user.reportupdater.granularity") == b"days"


# -- through the command -------------------------------------------------------

SCRIPT = """\
#!/bin/sh
# one row per interval; a line per execution in a log beside the script
echo "$1" >> "$3/executed"
printf 'date\\tn\\n%s\\t1\\n' "$1"
"""

STARTS = {"hours": "2026-10-31", "days": "2026-09-01", "weeks": "2026-09-01",
          "months": "2026-06-01"}


@pytest.fixture
def script_report(make_folder, tmp_path, run_cli):
    """set(granularity) writes the config; run(*args) runs it on tmp/out with
    --now 2026-11-01 and returns (result, dates executed)."""

    def configure(granularity: str = "days", starts: str | None = None) -> None:
        make_folder(f"""
            reports:
                r: {{type: script, granularity: {granularity},
                     starts: {starts or STARTS[granularity]}}}
            """, executables={"r": SCRIPT})

    def run(*args):
        folder = tmp_path / "queries"
        (folder / "executed").unlink(missing_ok=True)
        result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-01", *args)
        executed = folder / "executed"
        return result, sorted(executed.read_text().splitlines()) if executed.exists() else []

    return configure, run


@pytest.mark.parametrize("raw, value", [('"U1', '"U1'), ('"q" U1', '"q" U1')])
def test_a_run_keeps_values_with_bare_quotes(script_report, tmp_path, raw, value):
    configure, run = script_report
    configure("days", "2026-10-29")
    path = write_bytes(tmp_path / "out/r.tsv",
                       f"date\tn\n2026-10-29\t{raw}\n2026-10-30\tU2\n".encode())
    result, executed = run()
    assert (result.code, executed) == (0, ["2026-10-31"])
    assert tl.read_timeline(path, DAYS).rows == {
        "2026-10-29": [["2026-10-29", value]], "2026-10-30": [["2026-10-30", "U2"]],
        "2026-10-31": [["2026-10-31", "1"]]}


@pytest.mark.parametrize("data, message", [
    (b"date\tn\r2026-10-29\t1\r2026-10-30\t2\r",
     "r.tsv:1: a carriage return that ends no line (CR-only line ends?)"),
    (b"date\tn\tm\n2026-10-29\t1\t1\n2026-10-30\t2\n",
     "r.tsv:3: 2 fields but the header has 3 (a truncated row?)"),
])
@pytest.mark.parametrize("complete", [True, False])
def test_a_run_refuses_a_file_it_cannot_read_exactly(script_report, tmp_path, data,
                                                      message, complete):
    configure, run = script_report
    configure("days", "2026-10-29")
    path = write_bytes(tmp_path / "out/r.tsv", data)
    if complete:  # nothing due: the file must still not be taken as done
        path.write_bytes(data.replace(b"2026-10-30", b"2026-10-31").replace(
            b"2026-10-29", b"2026-10-30").replace(b"date", b"date\t", 0))
        data = path.read_bytes()
    result, executed = run()
    assert (result.code, executed) == (1, [])
    assert f"report 'r': {path.parent}/{message}" in result.err
    assert path.read_bytes() == data


def write_bytes(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("mode", [0o444, 0o600])
def test_a_run_keeps_a_files_mode(script_report, tmp_path, mode):
    configure, run = script_report
    configure("days", "2026-10-29")
    path = write_bytes(tmp_path / "out/r.tsv", b"date\tn\n2026-10-29\t1\n")
    path.chmod(mode)
    assert run()[0].code == 0
    assert path.read_text() == "date\tn\n2026-10-29\t1\n2026-10-30\t1\n2026-10-31\t1\n"
    assert stat.S_IMODE(path.stat().st_mode) == mode


CHANGES = [("days", "weeks"), ("weeks", "days"), ("days", "months"), ("months", "days"),
           ("weeks", "months"), ("months", "weeks"), ("hours", "days"), ("days", "hours")]


@pytest.mark.parametrize("old, new", CHANGES)
def test_a_changed_granularity_is_refused_and_rebuilt_on_request(script_report, tmp_path,
                                                                 old, new):
    configure, run = script_report
    configure(old)
    assert run()[0].code == 0
    path = tmp_path / "out/r.tsv"
    written = path.read_bytes()
    configure(new)
    result, executed = run()
    assert (result.code, executed) == (1, [])
    assert (f"report 'r': {path} was written for granularity {old} (recorded with the "
            f"file), but the report's granularity is now {new}: merging would drop or "
            f"misread its rows. To migrate, give the {new} report a new name, or run "
            f"`reportupdater run --rebuild`, which keeps this file as r.tsv.{old}.bak "
            "beside it and recomputes the report from its start; nothing was changed"
            ) in result.err
    assert path.read_bytes() == written
    assert sorted(p.name for p in path.parent.glob("r.*")) == ["r.tsv"]

    result, executed = run("--rebuild")
    assert result.code == 0, result.err
    assert (tmp_path / f"out/r.tsv.{old}.bak").read_bytes() == written
    g = Granularity(new)
    expected = [g.format(s) for s in g.starts(g.truncate(dt.datetime.fromisoformat(
        STARTS[new])), g.add(g.truncate(dt.datetime(2026, 11, 1)), -1))]
    assert executed == expected
    assert sorted(tl.read_timeline(path, g).rows) == expected
    assert run()[0].code == 0  # and the new timeline is its granularity's


@pytest.mark.parametrize("old, new, evidence", [
    ("weeks", "days", "its dates are all Sundays"),
    ("months", "days", "its dates are all the 1st of a month"),
    ("months", "weeks", "its dates are all the 1st of a month"),
    ("days", "weeks", "it has 2026-09-01 but not 2026-08-30, where a weeks timeline has "
                      "the start of each interval"),
    ("hours", "days", "line 2 is dated 2026-10-31 00:00:00"),
])
def test_without_a_record_the_dates_tell_the_granularity(script_report, tmp_path, old,
                                                          new, evidence):
    # A file written before granularities were recorded, or copied without them.
    configure, run = script_report
    configure(old)
    assert run()[0].code == 0
    path = tmp_path / "out/r.tsv"
    os.removexattr(path, tl.GRANULARITY_ATTRIBUTE)
    written = path.read_bytes()
    configure(new)
    result, executed = run()
    assert (result.code, executed) == (1, [])
    assert (f"{path} was written for granularity {old} ({evidence}), but the report's "
            f"granularity is now {new}") in result.err
    assert path.read_bytes() == written


def test_a_file_of_the_same_granularity_without_a_record_is_used(script_report, tmp_path):
    configure, run = script_report
    configure("weeks")
    path = write_bytes(tmp_path / "out/r.tsv", b"date\tn\n2026-08-30\t1\n2026-09-06\t2\n"
                                               b"2026-09-08\t3\n")  # a daily breakdown row
    result, executed = run()
    assert result.code == 0, result.err
    assert executed[0] == "2026-09-13"
    assert tl.recorded_granularity(path) is Granularity.WEEKS


# -- symbolic links ------------------------------------------------------------

def test_a_link_inside_the_output_folder_is_followed(script_report, tmp_path):
    configure, run = script_report
    configure("days", "2026-10-30")
    target = write_bytes(tmp_path / "out/archive/r-2026.tsv", b"date\tn\n2026-10-30\t7\n")
    target.chmod(0o640)
    link = tmp_path / "out/r.tsv"
    link.symlink_to("archive/r-2026.tsv")
    result, executed = run()
    assert (result.code, executed) == (0, ["2026-10-31"]), result.err
    assert os.readlink(link) == "archive/r-2026.tsv"
    assert target.read_text() == "date\tn\n2026-10-30\t7\n2026-10-31\t1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["r-2026.tsv"]
    assert run()[0].code == 0


@pytest.mark.parametrize("linked", ["file", "folder"])
def test_a_link_leading_out_of_the_output_folder_is_refused(make_folder, tmp_path, run_cli,
                                                            linked):
    make_folder("""
        reports:
            r: {type: script, granularity: days, starts: 2026-10-30,
                explode_by: {wiki: enwiki}}
        """, executables={"r": SCRIPT})
    elsewhere = write_bytes(tmp_path / "elsewhere/enwiki.tsv", b"date\tn\n2026-10-30\t7\n")
    out = tmp_path / "out"
    if linked == "file":
        (out / "r").mkdir(parents=True)
        (out / "r/enwiki.tsv").symlink_to(elsewhere)
        how = f"a symbolic link to {elsewhere}"
    else:
        out.mkdir()
        (out / "r").symlink_to(elsewhere.parent)
        how = f"in {elsewhere.parent} (a linked folder)"
    result = run_cli("run", tmp_path / "queries", out, "--now", "2026-11-01")
    assert result.code == 1
    assert (f"report 'r' (wiki=enwiki): {out}/r/enwiki.tsv is {how}, outside the output "
            f"folder {out}; nothing is written outside it") in result.err
    assert sorted(p.name for p in elsewhere.parent.iterdir()) == ["enwiki.tsv"]
    assert elsewhere.read_bytes() == b"date\tn\n2026-10-30\t7\n"
