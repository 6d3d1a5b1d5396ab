"""Read, merge and atomically write TSV timeline files.

A timeline is a header line plus rows sorted by the date in their first
column; several rows may share a date and keep their order. New results
replace the rows of the intervals they cover; rows of other dates are never
lost. Header changes work as in the original reportupdater: new columns are
added, the new order wins, and columns that disappeared are kept at the end,
sorted, empty for new rows. Files are written to a temp file in the same
folder, fsynced and renamed into place (``atomic``), so a reader never sees
half a file; they keep their mode and record their granularity.

An existing file is read exactly as it was written or refused naming the file
and line, never reinterpreted; a file written for another granularity, or a
symbolic link leading out of the output folder, is refused too. The rules are
in docs/timelines.md.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import functools
import io
import itertools
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .atomic import atomic_path, write_atomic
from .errors import GranularityError, TimelineError
from .intervals import Granularity, Interval
from .results import IntervalRows


@dataclass
class Timeline:
    """A TSV timeline read into memory: its header and its rows by date label."""

    header: list[str]
    rows: dict[str, list[list[str]]] = field(default_factory=dict)  # date label -> rows
    granularity: Granularity | None = None  # recorded with the file when written

    def labels(self) -> list[str]:
        return sorted(self.rows)

    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


_LABEL_FORMS = {
    False: re.compile(r"\d{4}-\d\d-\d\d"),
    True: re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"),
}


def is_label(label: str, granularity: Granularity) -> bool:
    """Whether ``label`` is a date (and time, if hourly) as a timeline writes it."""
    return _is_label(label, granularity is Granularity.HOURS)


@functools.lru_cache(maxsize=1 << 17)  # files of one folder share their dates
def _is_label(label: str, hourly: bool) -> bool:
    if not _LABEL_FORMS[hourly].fullmatch(label):
        return False
    try:
        dt.datetime.fromisoformat(label)  # the form is fixed above; this checks ranges
    except ValueError:
        return False
    return True


def _bad_label(path: Path, line: int, label: str, granularity: Granularity) -> TimelineError:
    hourly = granularity is Granularity.HOURS
    if _is_label(label, not hourly):  # a date of the other form: written by another report
        return granularity_changed(path, None if hourly else Granularity.HOURS,
                                   granularity, f"line {line} is dated {label}")
    return TimelineError(
        f"{path}:{line}: first column {label!r} is not a date in the format "
        f"{granularity.date_format} of a {granularity.value} report; fix or move the "
        "file, nothing was overwritten")


def read_timeline(path: Path, granularity: Granularity) -> Timeline | None:
    """The timeline at ``path``, or None if there is no file. Raises TimelineError."""
    try:
        text = path.read_bytes().decode("utf-8")  # line ends as they are
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise TimelineError(f"cannot read {path}: {e}") from e
    return parse_timeline(text, path, granularity)


def parse_timeline(text: str, path: Path, granularity: Granularity) -> Timeline | None:
    """A timeline from the text of its file (None if empty). Raises TimelineError.

    Every row must have as many fields as the header: a file is read exactly as
    it is written (see ``split_rows``) or refused, never patched up.
    """
    if '"' not in text:  # the usual file: split in C, one pass over the rows
        header, numbered = _plain_rows(text, path)
        if header is None:
            return None
    else:
        rows_of = split_rows(text, path)
        first = next(rows_of, None)
        if first is None:
            return None
        header, numbered = first[1], rows_of
    timeline = Timeline(header=header, granularity=granularity)
    rows = timeline.rows
    width = len(header)
    hourly = granularity is Granularity.HOURS
    for line, row in numbered:
        label = row[0]
        if len(row) != width or not _is_label(label, hourly):
            _refuse_row(path, line, row, width, granularity, hourly)
        group = rows.get(label)
        if group is None:
            rows[label] = [row]
        else:
            group.append(row)
    return timeline


def _refuse_row(path: Path, line: int, row: list[str], width: int,
                granularity: Granularity, hourly: bool) -> None:
    """Raise the TimelineError that says what is wrong with this row."""
    if not _is_label(row[0], hourly):
        raise _bad_label(path, line, row[0], granularity)
    if len(row) > width:
        raise TimelineError(f"{path}:{line}: {len(row)} fields but the header "
                            f"has {width}; nothing was overwritten")
    raise TimelineError(f"{path}:{line}: {len(row)} fields but the header has "
                        f"{width} (a truncated row?); fix or move the file, "
                        "nothing was overwritten")


# -- the TSV dialect (docs/timelines.md) --------------------------------------
# Fields are separated by tabs and rows end with LF (CRLF is read too). A value
# holding a tab, LF, CR or double quote is written in double quotes, each of its
# quotes doubled; every other value is written as it is. Reading inverts this
# exactly: a field is quoted only if it is the quoted form of such a value,
# followed by the end of its field, and any other field, bare quotes included
# (as the original wrote them), is read literally.

_NEEDS_QUOTES = re.compile(r'[\t\n\r"]')
_QUOTED = re.compile(r'"((?:[^"]|"")*)"(?=\t|\n|\r\n|\Z)')
_LITERAL = re.compile(r"[^\t\n]*")


def _bare_cr(path: Path, line: int) -> TimelineError:
    return TimelineError(
        f"{path}:{line}: a carriage return that ends no line (CR-only line ends?); "
        "rows must end with LF or CRLF; fix or move the file, nothing was overwritten")


def split_rows(text: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of the header, then of each row; blank lines skipped.

    Raises TimelineError for a carriage return that ends no line.
    """
    if '"' not in text:  # the usual file: nothing is quoted
        header, numbered = _plain_rows(text, path)
        if header is not None:
            yield 1, header
            yield from numbered
        return
    yield from _split_quoted(text, path)


def _plain_rows(text: str, path: Path
                ) -> tuple[list[str] | None, Iterator[tuple[int, list[str]]]]:
    """The header (None for an empty file) and the numbered rows of a text with
    no quote; blank lines skipped."""
    lines = _plain_text(text, path).split("\n")
    if not lines[0] and len(lines) == 1:
        return None, iter(())
    header = lines[0].split("\t") if lines[0] else []
    return header, ((number, line.split("\t"))
                    for number, line in enumerate(lines[1:], start=2) if line)


def _plain_text(text: str, path: Path) -> str:
    """Text with no quote, its CRLF line ends made LF. Raises TimelineError for a
    carriage return that ends no line."""
    if "\r" not in text:
        return text
    fixed = text.replace("\r\n", "\n")
    bare = fixed.find("\r")
    if bare >= 0:
        raise _bare_cr(path, fixed.count("\n", 0, bare) + 1)
    return fixed


def _split_quoted(text: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    size = len(text)
    pos, line = 0, 1
    while pos < size:
        first_line = line
        fields = []
        while True:
            quoted = _QUOTED.match(text, pos) if text.startswith('"', pos) else None
            if quoted and _NEEDS_QUOTES.search(value := quoted.group(1).replace('""', '"')):
                fields.append(value)
                line += quoted.group(1).count("\n")
                pos = quoted.end()
            else:
                literal = _LITERAL.match(text, pos)
                value, pos = literal.group(), literal.end()
                if value.endswith("\r") and text.startswith("\n", pos):
                    value = value[:-1]
                if "\r" in value:
                    raise _bare_cr(path, line)
                fields.append(value)
            if pos >= size:
                break
            if text[pos] == "\t":
                pos += 1
                continue
            pos += 2 if text[pos] == "\r" else 1  # LF or CRLF: the row ends
            line += 1
            break
        if fields != [""]:
            yield first_line, fields
        elif first_line == 1:
            yield 1, []


_AFTER_FIRST_FIELD = re.compile(rb"\t.*")  # a literal first: the fast search


_ALL_BUT_TAB_AND_LF = bytes(b for b in range(256) if b not in b"\t\n")


def plain_body(data: bytes) -> tuple[bytes, int, bool] | None:
    """The rows of a TSV (the text after its header line), the number of tabs
    in each, and whether its lines end with CRLF; None if the file must be
    parsed in full: it has quoted fields (they may span lines), a carriage
    return that ends no line, blank lines, or a row whose number of fields
    differs from the header's. A few passes in C."""
    if b'"' in data:
        return None
    header_end = data.find(b"\n")
    if header_end < 0:
        return None if b"\r" in data else (b"", data.count(b"\t"), False)
    crlf = b"\r" in data
    if crlf and data.count(b"\r") != data.count(b"\r\n"):
        return None
    body = data[header_end + 1:]
    tabs = data.count(b"\t", 0, header_end)
    # Only the tabs and line ends: every row must have the header's tabs.
    shape = body.translate(None, _ALL_BUT_TAB_AND_LF)
    if body and not body.endswith(b"\n"):
        shape += b"\n"
    if shape != (b"\t" * tabs + b"\n") * shape.count(b"\n"):
        return None
    return body, tabs, crlf


def label_column(data: bytes) -> bytes | None:
    """The first field of every row of a TSV, each followed by a newline, dates
    unchecked; None if the file must be parsed in full (see ``plain_body``).

    One regex substitution in C, so that a file of thousands of rows can be
    compared with the dates it should have in one go.
    """
    plain = plain_body(data)
    return None if plain is None else first_column(plain[0], plain[2])


def first_column(body: bytes, crlf: bool) -> bytes:
    """The first field of each row of ``body`` (as ``plain_body`` gives it), each
    followed by a newline."""
    column = _AFTER_FIRST_FIELD.sub(b"", body)
    if crlf:  # CRLF files (the original wrote them on some hosts)
        column = column.replace(b"\r", b"")
    if column and not column.endswith(b"\n"):
        column += b"\n"
    return column


def first_fields(data: bytes) -> list[bytes] | None:
    """The distinct first fields of a TSV's rows, in file order, unchecked; None
    if the file has quoted fields."""
    column = label_column(data)
    if column is None:
        return None
    fields = list(dict.fromkeys(column.split(b"\n")))
    if b"" in fields:
        fields.remove(b"")  # empty lines are allowed, and the end
    return fields


def check_labels(labels: list[bytes], data: bytes, path: Path,
                 granularity: Granularity) -> None:
    """Raise TimelineError naming the line of the first label that is no date."""
    for label in labels:
        text = label.decode("utf-8", "replace")
        if not is_label(text, granularity):
            found = re.search(rb"\n" + re.escape(label) + rb"(?:[\t\r\n]|$)", data)
            line = data.count(b"\n", 0, found.start()) + 2 if found else 2
            raise _bad_label(path, line, text, granularity)


def read_labels(path: Path, granularity: Granularity) -> set[str]:
    """The dates present in a timeline, reading only its first column."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return set()
    except OSError as e:
        raise TimelineError(f"cannot read {path}: {e}") from e
    return labels_of(data, path, granularity)


def labels_of(data: bytes, path: Path, granularity: Granularity) -> set[str]:
    """The dates present in a timeline's content. Raises TimelineError."""
    labels = first_fields(data)
    if labels is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TimelineError(f"cannot read {path}: {e}") from e
        timeline = parse_timeline(text, path, granularity)
        return set(timeline.rows) if timeline else set()
    check_labels(labels, data, path, granularity)
    return {label.decode("ascii") for label in labels}


def merge(timeline: Timeline | None, results: Iterable[IntervalRows]) -> Timeline:
    """A new timeline: ``timeline`` with the rows of each result's interval replaced.

    Results apply in order, as if merged one by one, but the existing dates are
    sorted once for the whole batch, not once per result.
    """
    header = list(timeline.header) if timeline and timeline.header else None
    rows = dict(timeline.rows) if timeline else {}
    existing = sorted(rows)
    added: dict[Interval, list[str]] = {}  # rows each interval put in
    granularity = timeline.granularity if timeline else None
    for result in results:
        interval = result.interval
        granularity = interval.granularity
        if interval in added:  # the same interval twice: the later one wins
            for label in added[interval]:
                rows.pop(label, None)
        else:
            end = interval.granularity.format(interval.end)
            for label in existing[bisect.bisect_left(existing, interval.label):
                                  bisect.bisect_left(existing, end)]:
                rows.pop(label, None)
        new_header = list(result.header)
        if header is None:
            header = list(new_header)
        target = _merged_header(header, new_header)
        if header[1:] != target[1:]:
            rows = {label: _remap(header, target, group) for label, group in rows.items()}
            header = target
        header[0] = new_header[0]
        labels = []
        for row in _remap(result.header, header, result.rows):
            group = rows.get(row[0])
            if group is None:
                rows[row[0]] = group = []
                labels.append(row[0])
            group.append(row)
        added[interval] = labels
    return Timeline(header=header or [], rows=rows, granularity=granularity)


def _merged_header(old: list[str], new: list[str]) -> list[str]:
    """The new header's order wins; vanished columns go last, sorted."""
    # The first column is the date whatever its name; other columns go by name.
    removed = sorted(set(old[1:]) - set(new[1:]))
    return list(new) + removed


def _remap(source: list[str] | tuple[str, ...], target: list[str],
           rows: Iterable[list[str] | tuple[str, ...]]) -> list[list[str]]:
    if list(source[1:]) == target[1:]:
        return [list(row) for row in rows]
    position = {name: index for index, name in enumerate(target)}
    indexes = [(position[name], i) for i, name in enumerate(source) if i > 0]
    remapped = []
    for row in rows:
        new_row = [""] * len(target)
        new_row[0] = row[0]
        for to, frm in indexes:
            new_row[to] = row[frm]
        remapped.append(new_row)
    return remapped


def trim_before(timeline: Timeline, first_label: str) -> int:
    """Drop rows dated before ``first_label`` (max_data_points); returns rows dropped."""
    dropped = 0
    for label in [label for label in timeline.rows if label < first_label]:
        dropped += len(timeline.rows.pop(label))
    return dropped


def render(timeline: Timeline, header: bool = True) -> str:
    """The file's text: the header line (unless ``header`` is false), then the
    rows sorted by date, rows of one date in their order."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    if header:
        writer.writerow(timeline.header)
    rows = timeline.rows
    writer.writerows(itertools.chain.from_iterable(rows[label] for label in sorted(rows)))
    text = out.getvalue()
    if "\r" in text:  # csv leaves a CR bare: quote it as the dialect says
        rows = [row for label in sorted(timeline.rows) for row in timeline.rows[label]]
        text = "".join("\t".join(map(_field, row)) + "\n"
                       for row in ([timeline.header] if header else []) + rows)
    return text


def _field(value: str) -> str:
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


temporary_path = atomic_path  # for writers of other files (the state file)


@dataclass(frozen=True)
class WrittenFile:
    """What a write left on disk: the file's identity, when, and its content's CRC-32."""

    stat: os.stat_result | None  # None if the file changed again at once
    seen_ns: int
    crc: int


def write_timeline(path: Path, timeline: Timeline, group: str | None = None) -> WrittenFile:
    """Write atomically and durably, with its granularity recorded. Raises
    TimelineError; the old file stays intact."""
    return write_data(path, render(timeline).encode("utf-8"), group, timeline.granularity)


def append_timeline(path: Path, current: bytes, later: Timeline,
                    group: str | None = None) -> WrittenFile:
    """Write ``current`` (a file's bytes, as ``render`` wrote them) followed by the
    rows of ``later``, whose dates all come after the file's and whose header is
    the file's: the same bytes as rendering the merge of the two, without parsing
    the file. Atomic and durable like ``write_timeline``."""
    return write_data(path, current + render(later, header=False).encode("utf-8"), group,
                      later.granularity)


def write_data(path: Path, data: bytes, group: str | None = None,
               granularity: Granularity | None = None) -> WrittenFile:
    """Replace the file at ``path`` with ``data``, atomically, keeping its mode and
    recording ``granularity`` with it. Raises TimelineError."""
    xattrs = {GRANULARITY_ATTRIBUTE: granularity.value.encode()} if granularity else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        before = write_atomic(path, data, group=group, xattrs=xattrs)
        after = os.stat(path)
    except (OSError, LookupError) as e:
        raise TimelineError(f"cannot write {path}: {e}") from e
    # The rename moves ctime on some filesystems; the rest must be ours still.
    ours = (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino, before.st_size, before.st_mtime_ns)
    return WrittenFile(after if ours else None, time.time_ns(), zlib.crc32(data))


def read_data(path: Path) -> tuple[bytes, os.stat_result] | None:
    """A file's bytes and its identity as read, or None if there is none.

    Raises TimelineError if it can't be read.
    """
    try:
        with open(path, "rb") as f:
            return f.read(), os.fstat(f.fileno())
    except FileNotFoundError:
        return None
    except OSError as e:
        raise TimelineError(f"cannot read {path}: {e}") from e


# -- granularity: a timeline is only ever merged at the one it was written with

GRANULARITY_ATTRIBUTE = "user.reportupdater.granularity"


def recorded_granularity(file: int | Path) -> Granularity | None:
    """The granularity recorded with a file (an open descriptor or a path) when
    this tool wrote it; None if none is (an older file, a filesystem without
    extended attributes)."""
    try:
        return Granularity(os.getxattr(file, GRANULARITY_ATTRIBUTE).decode())
    except (OSError, ValueError):
        return None


_COARSER = [Granularity.MONTHS, Granularity.WEEKS, Granularity.DAYS]


def apparent_granularity(labels: Iterable[str]) -> Granularity | None:
    """The coarsest granularity of which every date is an interval start; None
    with fewer than two dates (one date proves nothing)."""
    dates = set(labels)
    if len(dates) < 2:
        return None
    if any(len(label) > 10 for label in dates):
        return Granularity.HOURS
    if all(label.endswith("-01") for label in dates):
        return Granularity.MONTHS
    if all(dt.date.fromisoformat(label).weekday() == 6 for label in dates):
        return Granularity.WEEKS
    return Granularity.DAYS


def check_granularity(path: Path, labels: Iterable[str], granularity: Granularity,
                      recorded: Granularity | None) -> None:
    """Raise GranularityError if the timeline at ``path``, with these dates and
    the granularity recorded with it, was written for another granularity.

    The record decides. Without one the dates do, where they can: dates that
    are all starts of a coarser granularity (all Sundays, all 1sts), or dates
    finer than ``granularity`` where an interval lacks its own start date,
    which a timeline this tool wrote always has.
    """
    if recorded is not None:
        if recorded is not granularity:
            raise granularity_changed(path, recorded, granularity, "recorded with the file")
        return
    if granularity is Granularity.HOURS:
        return  # date-only rows are refused as such
    labels = set(labels)
    found = apparent_granularity(labels)
    if found is None or found is granularity:
        return
    if _COARSER.index(found) < _COARSER.index(granularity):
        raise granularity_changed(path, found, granularity, _every(found))
    for label in sorted(labels):
        start = granularity.format(granularity.truncate(dt.datetime.fromisoformat(label)))
        if start not in labels:
            raise granularity_changed(
                path, found, granularity, f"it has {label} but not {start}, where a "
                f"{granularity.value} timeline has the start of each interval")


def _every(found: Granularity) -> str:
    return {Granularity.MONTHS: "its dates are all the 1st of a month",
            Granularity.WEEKS: "its dates are all Sundays"}[found]


def granularity_changed(path: Path, found: Granularity | None, wanted: Granularity,
                        evidence: str) -> GranularityError:
    """The error for a timeline written by a ``found`` report (None: some report
    of days, weeks or months), now read for a ``wanted`` one."""
    written_for = found.value if found else "days, weeks or months"
    return GranularityError(
        f"{path} was written for granularity {written_for} ({evidence}), but the "
        f"report's granularity is now {wanted.value}: merging would drop or misread its "
        f"rows. To migrate, give "
        f"the {wanted.value} report a new name, or run `reportupdater run --rebuild`, "
        f"which keeps this file as {backup_name(path, found).name} beside it and "
        "recomputes the report from its start; nothing was changed",
        path=path, found=found, wanted=wanted)


def backup_name(path: Path, found: Granularity | None) -> Path:
    """Where ``--rebuild`` keeps a timeline of another granularity: the first of
    ``<name>.<granularity>.bak``, ``<name>.<granularity>.2.bak``... that is free."""
    stem = f"{path.name}.{found.value if found else 'old'}"
    candidate, number = path.with_name(f"{stem}.bak"), 1
    while os.path.lexists(candidate):
        number += 1
        candidate = path.with_name(f"{stem}.{number}.bak")
    return candidate


def set_aside(path: Path, found: Granularity | None) -> Path:
    """Move a timeline to its backup name beside it (never over another file);
    the backup's path. Raises TimelineError."""
    while True:
        backup = backup_name(path, found)
        try:
            os.link(path, backup)
        except FileExistsError:
            continue  # taken meanwhile: the next number
        except OSError as e:
            raise TimelineError(f"cannot keep {path} as {backup}: {e}") from e
        break
    try:
        os.unlink(path)
    except OSError as e:
        raise TimelineError(f"cannot move {path} aside to {backup}: {e}") from e
    return backup


# -- symbolic links: followed inside the output folder, refused out of it ------

class OutputFolder:
    """Where a run may read and write timelines: inside one output folder."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._real_root = os.path.realpath(self.root)
        self._real_folders: dict[Path, str] = {}  # each folder is resolved once
        self._inside_cache: dict[str, bool] = {}

    def target(self, path: Path) -> Path:
        """The file to read and write for the timeline at ``path``: ``path`` itself,
        or the file its symbolic link leads to. Raises TimelineError if that is
        outside the output folder (through a linked file or folder)."""
        folder = self._real_folders.get(path.parent)
        if folder is None:
            folder = self._real_folders[path.parent] = os.path.realpath(path.parent)
        linked = os.path.islink(path)
        real = os.path.realpath(path) if linked else os.path.join(folder, path.name)
        if not self._inside(real if linked else folder):
            how = f"a symbolic link to {real}" if linked else f"in {folder} (a linked folder)"
            raise TimelineError(
                f"{path} is {how}, outside the output folder {self.root}; nothing is "
                "written outside it: replace the link with the file, or with a link to "
                "a file inside the output folder")
        return Path(real) if linked else path

    def _inside(self, real: str) -> bool:
        """Whether the resolved path ``real`` is the output folder or below it
        (a folder's answer is kept: hundreds of timelines share one)."""
        known = self._inside_cache.get(real)
        if known is None:
            known = os.path.commonpath([self._real_root, real]) == self._real_root
            if len(self._inside_cache) < 10_000:
                self._inside_cache[real] = known
        return known
