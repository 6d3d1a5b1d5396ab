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
import io
import os
import re
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .errors import TimelineError
from .intervals import Granularity
from .results import IntervalRows


@dataclass
class Timeline:
    header: list[str]
    rows: dict[str, list[list[str]]] = field(default_factory=dict)  # date label -> rows

    def labels(self) -> list[str]:
        return sorted(self.rows)

    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def _check_label(label: str, granularity: Granularity, path: Path, line: int) -> None:
    import datetime as dt

    try:
        dt.datetime.strptime(label, granularity.date_format)
    except ValueError:
        raise TimelineError(
            f"{path}:{line}: first column {label!r} is not a date in the format "
            f"{granularity.date_format} of a {granularity.value} report; fix or move the "
            "file, nothing was overwritten") from None


def read_timeline(path: Path, granularity: Granularity) -> Timeline | None:
    """The timeline at ``path``, or None if there is no file. Raises TimelineError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise TimelineError(f"cannot read {path}: {e}") from e
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    try:
        header = next(reader, None)
        if header is None:
            return None
        timeline = Timeline(header=header)
        width = len(header)
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            _check_label(row[0], granularity, path, line)
            if len(row) < width:
                row = row + [""] * (width - len(row))
            elif len(row) > width:
                raise TimelineError(f"{path}:{line}: {len(row)} fields but the header has "
                                    f"{width}; nothing was overwritten")
            timeline.rows.setdefault(row[0], []).append(row)
    except csv.Error as e:
        raise TimelineError(f"{path}: not a valid TSV: {e}") from e
    return timeline


def read_labels(path: Path, granularity: Granularity) -> set[str]:
    """The dates present in a timeline, reading only its first column."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return set()
    except OSError as e:
        raise TimelineError(f"cannot read {path}: {e}") from e
    if b'"' in data:  # quoted fields may span lines: parse properly
        timeline = read_timeline(path, granularity)
        return set(timeline.rows) if timeline else set()
    header_end = data.find(b"\n")
    if header_end < 0:
        return set()
    body = data[header_end + 1:]
    bad = _BAD_LABEL[granularity is Granularity.HOURS].search(body)
    if bad:  # a full read names the line
        read_timeline(path, granularity)
        line = body.count(b"\n", 0, bad.start()) + 2
        raise TimelineError(f"{path}:{line}: first column is not a date in the format "
                            f"{granularity.date_format}; nothing was overwritten")
    labels = {line.split(b"\t", 1)[0].rstrip(b"\r") for line in body.split(b"\n")}
    labels.discard(b"")
    return {label.decode("ascii") for label in labels}


# A line that does not start with a date label (empty lines are allowed).
_BAD_LABEL = {
    False: re.compile(rb"^(?!\d{4}-\d\d-\d\d(?:\t|\r?$))(?=.)", re.M),
    True: re.compile(rb"^(?!\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\t|\r?$))(?=.)", re.M),
}


def merge(timeline: Timeline | None, results: Iterable[IntervalRows]) -> Timeline:
    """A new timeline: ``timeline`` with the rows of each result's interval replaced."""
    merged = Timeline(header=list(timeline.header), rows=dict(timeline.rows)) if timeline \
        else None
    for result in results:
        merged = _merge_one(merged, result)
    return merged or Timeline(header=[])


def _merge_one(timeline: Timeline | None, result: IntervalRows) -> Timeline:
    new_header = list(result.header)
    if timeline is None or not timeline.header:
        timeline = Timeline(header=new_header)
    target = _merged_header(timeline.header, new_header)
    if timeline.header[1:] != target[1:]:
        timeline = Timeline(header=target, rows={
            label: _remap(timeline.header, target, rows)
            for label, rows in timeline.rows.items()})
    timeline.header[0] = new_header[0]
    header = timeline.header
    labels = sorted(timeline.rows)
    start = result.interval.label
    end = result.interval.granularity.format(result.interval.end)
    for label in labels[bisect.bisect_left(labels, start):bisect.bisect_left(labels, end)]:
        del timeline.rows[label]
    for row in _remap(result.header, header, result.rows):
        timeline.rows.setdefault(row[0], []).append(row)
    return timeline


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


def render(timeline: Timeline) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(timeline.header)
    for label in sorted(timeline.rows):
        writer.writerows(timeline.rows[label])
    return out.getvalue()


@contextmanager
def temporary_path(path: Path) -> Iterator[Path]:
    """A temp path beside ``path``, renamed into place only if the block succeeds."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
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


def write_timeline(path: Path, timeline: Timeline, group: str | None = None) -> None:
    """Write atomically and durably. Raises TimelineError; the old file stays intact."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary_path(path) as temp:
            with open(temp, "w", encoding="utf-8", newline="") as f:
                f.write(render(timeline))
                f.flush()
                os.fsync(f.fileno())
            if group:
                shutil.chown(temp, group=group)
    except (OSError, LookupError) as e:
        raise TimelineError(f"cannot write {path}: {e}") from e
