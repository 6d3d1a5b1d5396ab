"""Read, merge and atomically write TSV timeline files.

A timeline is a header line plus rows sorted by the date in their first
column; several rows may share a date and keep their order. New results
replace the rows of the intervals they cover; rows of other dates are never
lost. Header changes work as in the original reportupdater: new columns are
added, the new order wins, and columns that disappeared are kept at the end,
sorted, empty for new rows. Files are written to a temp file in the same
folder, fsynced and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import functools
import io
import os
import re
import shutil
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .errors import TimelineError
from .intervals import Granularity, Interval
from .results import IntervalRows


@dataclass
class Timeline:
    header: list[str]
    rows: dict[str, list[list[str]]] = field(default_factory=dict)  # date label -> rows

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
    return TimelineError(
        f"{path}:{line}: first column {label!r} is not a date in the format "
        f"{granularity.date_format} of a {granularity.value} report; fix or move the "
        "file, nothing was overwritten")


def read_timeline(path: Path, granularity: Granularity) -> Timeline | None:
    """The timeline at ``path``, or None if there is no file. Raises TimelineError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise TimelineError(f"cannot read {path}: {e}") from e
    return parse_timeline(text, path, granularity)


def parse_timeline(text: str, path: Path, granularity: Granularity) -> Timeline | None:
    """A timeline from the text of its file (None if empty). Raises TimelineError."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    hourly = granularity is Granularity.HOURS
    try:
        header = next(reader, None)
        if header is None:
            return None
        timeline = Timeline(header=header)
        rows = timeline.rows
        width = len(header)
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            label = row[0]
            if not _is_label(label, hourly):
                raise _bad_label(path, line, label, granularity)
            if len(row) != width:
                if len(row) > width:
                    raise TimelineError(f"{path}:{line}: {len(row)} fields but the header "
                                        f"has {width}; nothing was overwritten")
                row += [""] * (width - len(row))
            group = rows.get(label)
            if group is None:
                rows[label] = [row]
            else:
                group.append(row)
    except csv.Error as e:
        raise TimelineError(f"{path}: not a valid TSV: {e}") from e
    return timeline


_AFTER_FIRST_FIELD = re.compile(rb"\t.*")  # a literal first: the fast search


def label_column(data: bytes) -> bytes | None:
    """The first field of every row of a TSV, each followed by a newline, unchecked;
    None if the file has quoted fields (they may span lines: parse it).

    One regex substitution in C, so that a file of thousands of rows can be
    compared with the dates it should have in one go.
    """
    if b'"' in data:
        return None
    header_end = data.find(b"\n")
    if header_end < 0:
        return b""
    column = _AFTER_FIRST_FIELD.sub(b"", data[header_end + 1:])
    if b"\r" in column:  # CRLF files (the original wrote them on some hosts)
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
    labels = first_fields(data)
    if labels is None:
        timeline = read_timeline(path, granularity)
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
    for result in results:
        interval = result.interval
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
    return Timeline(header=header or [], rows=rows)


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
    for label in sorted(timeline.rows):
        writer.writerows(timeline.rows[label])
    return out.getvalue()


_TEMP_NAME = re.compile(r"\..+\.(\d+)\.\d+\.tmp")  # as temporary_path names them
_clean_folders: set[str] = set()
_clean_lock = threading.Lock()


def _remove_orphans(path: Path) -> None:
    """Delete temp files that killed processes left beside ``path``.

    Each folder is scanned once per process: a run writing hundreds of files
    into one folder must not list it for every file.
    """
    folder = path.parent
    with _clean_lock:
        if str(folder) in _clean_folders:
            return
        _clean_folders.add(str(folder))
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.name.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        match = _TEMP_NAME.fullmatch(name)
        if not match or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            (folder / name).unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, another user's


@contextmanager
def temporary_path(path: Path) -> Iterator[Path]:
    """A temp path beside ``path``, renamed into place only if the block succeeds."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    _remove_orphans(path)
    try:
        yield temp
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # some filesystems can't fsync a directory; the rename is still atomic


@dataclass(frozen=True)
class WrittenFile:
    """What a write left on disk: the file's identity, when, and its content's CRC-32."""

    stat: os.stat_result | None  # None if the file changed again at once
    seen_ns: int
    crc: int


def write_timeline(path: Path, timeline: Timeline, group: str | None = None) -> WrittenFile:
    """Write atomically and durably. Raises TimelineError; the old file stays intact."""
    return write_data(path, render(timeline).encode("utf-8"), group)


def append_timeline(path: Path, current: bytes, later: Timeline,
                    group: str | None = None) -> WrittenFile:
    """Write ``current`` (a file's bytes, as ``render`` wrote them) followed by the
    rows of ``later``, whose dates all come after the file's and whose header is
    the file's: the same bytes as rendering the merge of the two, without parsing
    the file. Atomic and durable like ``write_timeline``."""
    return write_data(path, current + render(later, header=False).encode("utf-8"), group)


def write_data(path: Path, data: bytes, group: str | None = None) -> WrittenFile:
    """Replace the file at ``path`` with ``data``, atomically. Raises TimelineError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary_path(path) as temp:
            with open(temp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
                before = os.fstat(f.fileno())
            if group:
                shutil.chown(temp, group=group)
                before = os.stat(temp)
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
