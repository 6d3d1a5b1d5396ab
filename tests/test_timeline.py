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
