"""Triage: which intervals of each timeline are done, without re-reading it.

Input: a timeline's path and granularity. Output: its ``Coverage``, the
interval starts present in its first column as runs of consecutive interval
indexes, from which ``schedule.missing_intervals`` works out what is due
without walking the dates that are done.

Reading a TSV costs time in the number of its rows, and an hourly run over
hundreds of complete files must not pay it. So coverages are cached in the
query folder's ``.reportupdater-triage`` (beside its ``.lock``: the output
folder holds only what is published), keyed by each file's absolute path and
checked against the file's identity: inode, size, mtime_ns and ctime_ns.

The TSV stays the source of truth. Any write to a file, or change of its
times, moves its ctime, which no tool can set back, so its entry stops
matching and the file is read again. A change within the same clock tick as
the moment the entry was taken would not show, so an entry taken less than
``SETTLED_NS`` after the file's ctime is trusted only once the file's content
matches the CRC-32 kept with it. A cache file that is missing, unreadable,
truncated or fails its checksum is ignored, and failing to write one is only
logged.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import json
import logging
import os
import re
import threading
import time
import zlib
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from . import timeline as tl
from .atomic import write_atomic
from .errors import GranularityError, TimelineError
from .intervals import Granularity
from .timeline import check_labels, parse_timeline

log = logging.getLogger(__name__)

CACHE_NAME = ".reportupdater-triage"
_MAGIC = b"reportupdater-triage 2 "


_LABEL = {
    Granularity.HOURS: re.compile(r"\d{4}-\d\d-\d\d \d\d:00:00"),
    Granularity.DAYS: re.compile(r"\d{4}-\d\d-\d\d"),
    Granularity.WEEKS: re.compile(r"\d{4}-\d\d-\d\d"),
    Granularity.MONTHS: re.compile(r"\d{4}-\d\d-01"),
}


def label_index(label: str, granularity: Granularity) -> int | None:
    """The index of the interval ``label`` starts, or None if it starts none.

    Rows may carry dates inside an interval (a weekly report's daily rows);
    only an interval's own start date makes it done, as in the original.
    """
    if not _LABEL[granularity].fullmatch(label):
        return None
    try:
        day = dt.date.fromisoformat(label[:10])
    except ValueError:
        return None
    if granularity is Granularity.HOURS:
        hour = int(label[11:13])
        return day.toordinal() * 24 + hour if hour < 24 else None
    if granularity is Granularity.WEEKS:
        ordinal = day.toordinal()  # Sundays are the multiples of 7
        return ordinal // 7 if ordinal % 7 == 0 else None
    return granularity.index(dt.datetime(day.year, day.month, day.day))


@functools.lru_cache(maxsize=64)
def _labels_from(first: int, count: int, granularity: Granularity) -> tuple[str, ...]:
    fmt = granularity.date_format
    return tuple(granularity.start_of(i).strftime(fmt) for i in range(first, first + count))


class Coverage:
    """The interval indexes present in a timeline, as sorted disjoint runs."""

    __slots__ = ("granularity", "runs", "_lasts")

    def __init__(self, granularity: Granularity, runs: Iterable[tuple[int, int]] = ()):
        self.granularity = granularity
        self.runs: tuple[tuple[int, int], ...] = _normalise(runs)
        self._lasts = [last for _, last in self.runs]

    @classmethod
    def from_labels(cls, labels: Sequence[str] | Sequence[bytes],
                    granularity: Granularity) -> "Coverage":
        """The coverage of date labels (str or ASCII bytes), in any order."""
        if not labels:
            return cls(granularity)
        if isinstance(labels[0], bytes):
            labels = [label.decode("ascii", "replace") for label in labels]
        fast = _contiguous(labels, granularity)
        if fast is not None:
            return cls(granularity, [fast])
        indexes = set()
        for label in labels:
            index = label_index(label, granularity)
            if index is not None:
                indexes.add(index)
        runs: list[tuple[int, int]] = []
        for index in sorted(indexes):
            if runs and runs[-1][1] == index - 1:
                runs[-1] = (runs[-1][0], index)
            else:
                runs.append((index, index))
        return cls(granularity, runs)

    def __contains__(self, label: object) -> bool:
        if not isinstance(label, str):
            return False
        index = label_index(label, self.granularity)
        return index is not None and self.covers(index)

    def covers(self, index: int) -> bool:
        at = bisect.bisect_left(self._lasts, index)
        return at < len(self.runs) and self.runs[at][0] <= index

    def __len__(self) -> int:
        return sum(last - first + 1 for first, last in self.runs)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Coverage) and other.granularity is self.granularity
                and other.runs == self.runs)

    def __repr__(self) -> str:
        return f"Coverage({self.granularity.value}, {list(self.runs)})"

    def without(self, ranges: Iterable[tuple[int, int]]) -> "Coverage":
        """This coverage minus the inclusive index ranges (rerun requests)."""
        runs = list(self.runs)
        for first, last in ranges:
            kept = []
            for a, b in runs:
                if b < first or a > last:
                    kept.append((a, b))
                    continue
                if a < first:
                    kept.append((a, first - 1))
                if b > last:
                    kept.append((last + 1, b))
            runs = kept
        return Coverage(self.granularity, runs)

    def missing(self, first: int, last: int) -> Iterator[int]:
        """Indexes from ``first`` to ``last`` (inclusive) not covered, in order."""
        current = first
        for a, b in self.runs[bisect.bisect_left(self._lasts, first):]:
            if a > last:
                break
            if a > current:
                yield from range(current, a)
            current = max(current, b + 1)
            if current > last:
                return
        yield from range(current, last + 1)


def _normalise(runs: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted((int(a), int(b)) for a, b in runs):
        if last < first:
            continue
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def _contiguous(labels: Sequence[str], granularity: Granularity) -> tuple[int, int] | None:
    """(first, last) if ``labels`` are exactly consecutive interval starts, in order.

    The common case, a file this tool wrote with one row per date, costs one
    comparison of two tuples in C instead of parsing every date.
    """
    first = label_index(labels[0], granularity)
    last = label_index(labels[-1], granularity)
    if first is None or last is None or last - first + 1 != len(labels):
        return None
    same = tuple(labels) == _labels_from(first, len(labels), granularity)
    return (first, last) if same else None


# -- the cache ----------------------------------------------------------------

# An identity can only vouch for content if the file's ctime was already in
# the past when the content was seen: a change within the same clock tick
# would leave size, mtime and ctime as they were. 2 s covers filesystems with
# one-second and two-second timestamps; younger entries are checked by CRC.
SETTLED_NS = 2_000_000_000


def _identity(st: os.stat_result) -> list[int]:
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


class TriageCache:
    """Coverages of timelines, each checked against its file.

    Each entry holds the file's identity, when it was seen, the CRC-32 of its
    content and its coverage. An entry is trusted as is when its identity
    matches and its ctime was at least ``SETTLED_NS`` old when seen. An
    unsettled entry (a file written or read just after it changed) is trusted
    only once the file's content is read and its CRC matches; otherwise the
    file is parsed again.
    """

    settled_ns = SETTLED_NS  # tests inject a shorter settle time, not a sleep

    def __init__(self, path: Path, settled_ns: int | None = None):
        self.path = Path(path)
        if settled_ns is not None:
            self.settled_ns = settled_ns
        self._entries: dict[str, list] | None = None  # loaded on first use
        self._changed = False
        self._lock = threading.RLock()  # workers plan while the main thread records

    def _load(self) -> dict[str, list]:
        with self._lock:
            return self._load_locked()

    def _load_locked(self) -> dict[str, list]:
        if self._entries is None:
            self._entries = {}
            try:
                self._entries = _parse(self.path.read_bytes())
            except FileNotFoundError:
                pass
            except (OSError, ValueError) as e:
                log.info("ignoring the triage cache %s: %s", self.path, e)
                self._changed = True  # replace it
        return self._entries

    @staticmethod
    def _key(path: Path) -> str:
        return os.path.abspath(path)

    def coverage(self, path: Path, granularity: Granularity, rebuild: bool = False
                 ) -> Coverage:
        """The dates present in the timeline at ``path``. Raises TimelineError, and
        GranularityError if the file was written for another granularity: unless
        ``rebuild``, which moves such a file aside (``timeline.set_aside``) and
        returns an empty coverage, so that the report is computed from its start.
        """
        try:
            return self._coverage(path, granularity)
        except GranularityError as e:
            if not rebuild:
                raise
            backup = tl.set_aside(path, e.found)
            self.forget(path)
            log.warning("%s was written for granularity %s: kept as %s, and the report "
                        "is computed anew at granularity %s from its start (--rebuild)", path,
                        e.found.value if e.found else "days, weeks or months", backup,
                        granularity.value)
            return Coverage(granularity)

    def _coverage(self, path: Path, granularity: Granularity) -> Coverage:
        key = self._key(path)
        entry = self._load().get(key)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if entry is not None:
                self.forget(path)
            return Coverage(granularity)
        except OSError as e:
            raise TimelineError(f"cannot read {path}: {e}") from e
        if entry is not None and (entry[6] != granularity.value or entry[:4] != _identity(st)):
            entry = None
        if entry is not None and entry[3] <= entry[4] - self.settled_ns:
            return Coverage(granularity, entry[7])
        try:
            with open(path, "rb") as f:
                before = os.fstat(f.fileno())
                data = f.read()
                recorded = tl.recorded_granularity(f.fileno())
                after = os.fstat(f.fileno())
        except FileNotFoundError:
            return Coverage(granularity)
        except OSError as e:
            raise TimelineError(f"cannot read {path}: {e}") from e
        seen = time.time_ns()
        crc = zlib.crc32(data)
        written = None
        if entry is not None and crc == entry[5] and _identity(after) == entry[:4]:
            coverage = Coverage(granularity, entry[7])
            written = entry[8], entry[9]
        else:
            coverage = coverage_of(data, path, granularity, recorded)
        if _identity(before) == _identity(after):
            self.record(path, after, seen, crc, coverage, *(written or ()))
        return coverage

    def record(self, path: Path, st: os.stat_result, seen_ns: int, crc: int,
               coverage: Coverage, header: list[str] | None = None,
               last: str | None = None) -> None:
        """Remember that the file with identity ``st`` and content CRC ``crc``,
        as seen at ``seen_ns`` (``time.time_ns()``), covers ``coverage``.

        ``header`` and ``last`` (its last date) are given when this tool wrote
        the file: rendered by ``timeline.render``, it can be appended to.
        """
        entry = _identity(st) + [seen_ns, crc, coverage.granularity.value,
                                 [list(r) for r in coverage.runs], header, last]
        with self._lock:
            self._load_locked()[self._key(path)] = entry
            self._changed = True

    def written(self, path: Path, data: bytes, st: os.stat_result
                ) -> tuple[list[str], str, Coverage] | None:
        """(header, last date, coverage) if ``data``, read from ``path`` with
        identity ``st``, is exactly what this tool last wrote there; else None."""
        with self._lock:
            entry = self._load_locked().get(self._key(path))
        if (entry is None or entry[8] is None or entry[:4] != _identity(st)
                or entry[5] != zlib.crc32(data)):
            return None
        return entry[8], entry[9], Coverage(Granularity(entry[6]), entry[7])

    def forget(self, path: Path) -> None:
        with self._lock:
            if self._load_locked().pop(self._key(path), None) is not None:
                self._changed = True

    def save(self) -> None:
        """Write the cache if anything changed. Never raises: it is only a cache."""
        with self._lock:
            if not self._changed or self._entries is None:
                return
            body = json.dumps(self._entries, separators=(",", ":")).encode()
            self._changed = False
        data = _MAGIC + b"%08x\n" % zlib.crc32(body) + body
        try:
            # Not fsynced: a cache lost or torn in a crash fails its checksum and
            # is rebuilt from the timelines.
            write_atomic(self.path, data, durable=False)
        except OSError as e:
            log.info("could not write the triage cache %s: %s", self.path, e)


def _parse(data: bytes) -> dict[str, list]:
    """The entries of a cache file. Raises ValueError if it is not a whole one."""
    newline = data.find(b"\n")
    if not data.startswith(_MAGIC) or newline != len(_MAGIC) + 8:
        raise ValueError("not a triage cache of this version")
    body = data[newline + 1:]
    if int(data[len(_MAGIC):newline], 16) != zlib.crc32(body):
        raise ValueError("checksum mismatch (truncated or corrupt)")
    entries = json.loads(body)
    if not isinstance(entries, dict):
        raise ValueError("not a mapping")
    for entry in entries.values():
        if (not isinstance(entry, list) or len(entry) != 10
                or not all(type(v) is int for v in entry[:6])
                or entry[6] not in _GRANULARITIES or not isinstance(entry[7], list)
                or not all(isinstance(r, list) and len(r) == 2
                           and all(type(i) is int for i in r) for r in entry[7])
                or (entry[8] is not None and not (
                    isinstance(entry[8], list) and entry[8]
                    and all(isinstance(c, str) for c in entry[8])
                    and isinstance(entry[9], str)))):
            raise ValueError("malformed entry")
    return entries


_GRANULARITIES = {g.value for g in Granularity}


def coverage_of(data: bytes, path: Path, granularity: Granularity,
                recorded: Granularity | None = None) -> Coverage:
    """The coverage of a timeline's content, ``recorded`` the granularity kept
    with its file. Raises TimelineError on a bad date or row, GranularityError
    if it was written for another granularity."""
    if recorded is not None and recorded is not granularity:  # before any date is read
        raise tl.granularity_changed(path, recorded, granularity, "recorded with the file")
    plain = tl.plain_body(data)
    if plain is None:  # quoted fields, odd rows: parse properly
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TimelineError(f"cannot read {path}: {e}") from e
        timeline = parse_timeline(text, path, granularity)
        labels = sorted(timeline.rows) if timeline else []
        tl.check_granularity(path, labels, granularity, recorded)
        return Coverage.from_labels(labels, granularity)
    body, tabs, crlf = plain
    run = _contiguous_rows(body, granularity) if tabs and not crlf else None
    if run is None:
        column = tl.first_column(body, crlf)
        run = _contiguous_column(column, granularity)
    if run is not None:  # one row per interval: its dates are this granularity's
        tl.check_granularity(path, (), granularity, recorded)
        return Coverage(granularity, [run])
    labels = list(dict.fromkeys(column.split(b"\n")))
    if b"" in labels:
        labels.remove(b"")
    check_labels(labels, data, path, granularity)
    text_labels = [label.decode("ascii") for label in labels]
    tl.check_granularity(path, text_labels, granularity, recorded)
    return Coverage.from_labels(text_labels, granularity)


def _contiguous_rows(body: bytes, granularity: Granularity) -> tuple[int, int] | None:
    """(first, last) if the rows of a TSV whose every row has the header's tabs
    (at least one) and ends with LF are one per interval, consecutive, in
    order: each line starts with the next label and a tab. A file this tool
    wrote with one row per date; checked without taking the first column out
    (split and startswith run in C), the usual file of a long daily report."""
    if not body.endswith(b"\n"):
        return None
    lines = body.split(b"\n")
    first = label_index(lines[0].partition(b"\t")[0].decode("ascii", "replace"), granularity)
    if first is None:
        return None
    rows = len(lines) - 1
    if not all(map(bytes.startswith, lines, _prefixes_from(first, rows, granularity))):
        return None
    return first, first + rows - 1


@functools.lru_cache(maxsize=16)
def _prefixes_from(first: int, count: int, granularity: Granularity) -> tuple[bytes, ...]:
    return tuple((label + "\t").encode("ascii")
                 for label in _labels_from(first, count, granularity))


def _contiguous_column(column: bytes, granularity: Granularity) -> tuple[int, int] | None:
    """(first, last) if a label column is one row per interval, consecutive, in order:
    a file this tool wrote with one row per date. One bytes comparison."""
    rows = column.count(b"\n")
    if rows == 0:
        return None
    first = label_index(column[:column.find(b"\n")].decode("ascii", "replace"), granularity)
    last = label_index(column[column.rfind(b"\n", 0, -1) + 1:-1].decode("ascii", "replace"),
                       granularity)
    if first is None or last is None or last - first + 1 != rows:
        return None
    return (first, last) if column == _column_from(first, rows, granularity) else None


@functools.lru_cache(maxsize=16)
def _column_from(first: int, count: int, granularity: Granularity) -> bytes:
    return "".join(label + "\n" for label in _labels_from(first, count, granularity)
                   ).encode("ascii")
