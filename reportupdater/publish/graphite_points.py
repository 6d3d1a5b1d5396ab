"""Graphite points from timeline rows: ``path value timestamp``, and their wire forms.

Input: a report's graphite section (path template, metrics), the top-level
graphite config (prefix, lookups) and rows of its timeline. Output: one point
per row and configured metric, stamped with the start of the row's interval
as a UTC epoch; encoded as plaintext lines (what the outbox stores) or as
carbon's pickle frames.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import math
import pickle
import re
import string
import struct
from functools import lru_cache
from typing import Iterable, Iterator, Mapping, Sequence

from ..config import GraphiteConfig, ReportConfig
from ..intervals import Granularity

log = logging.getLogger(__name__)

# carbon drops a pickle connection whose frame exceeds PICKLE_RECEIVER_MAX_LENGTH
# (1 MiB by default), so frames stay well below it.
MAX_PICKLE_FRAME = 900_000

Point = tuple[str, str, int]  # metric path, value as sent, UTC epoch seconds

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


@lru_cache(maxsize=65536)
def sanitise(value: str) -> str:
    """A metric path component from data: anything but ASCII letters, digits,
    ``_`` and ``-`` (dots, spaces, slashes, quotes...) becomes ``_``."""
    return _UNSAFE.sub("_", value) or "_"


@lru_cache(maxsize=65536)
def numeric(text: str) -> str | None:
    """``text`` as carbon should get it, or None when it is no finite number."""
    try:
        number = float(text)
    except ValueError:  # "" and words
        return None
    # float() also takes "1_000" and non-ASCII digits; carbon's peers may not.
    if not math.isfinite(number) or not text.isascii() or "_" in text:
        return None
    return text.strip()


def interval_timestamp(label: str, granularity: Granularity) -> int:
    """The UTC epoch of the start of the interval a row's date label falls in."""
    moment = dt.datetime.strptime(label, granularity.date_format)
    return calendar.timegm(granularity.truncate(moment).timetuple())


def epoch(moment: dt.datetime) -> int:
    return calendar.timegm(moment.timetuple())


def path_fields(path: str) -> set[str]:
    """The field names a ``str.format`` path uses (``{a.b}`` and ``{a[0]}`` use ``a``)."""
    names = set()
    for _, name, _, _ in string.Formatter().parse(path):
        if name:
            names.add(re.split(r"[.\[]", name, maxsplit=1)[0])
    return names


class PointBuilder:
    """Turns one report's timeline rows into points; remembers what it skipped.

    The path is formatted with, in increasing precedence: the explode values
    (through the lookups), every column of the row by header name, and
    ``_metric``, as in the original reportupdater. Values from data are
    sanitised; the path's own text, the metric names and the prefix come from
    the config, which checks them.
    """

    def __init__(self, report: ReportConfig, graphite: GraphiteConfig):
        assert report.graphite is not None
        self.report = report
        self.path = report.graphite.path
        self.metrics = report.graphite.metrics
        self.prefix = graphite.prefix.strip(".") + "." if graphite.prefix.strip(".") else ""
        self.lookups = graphite.lookups
        self.fields = path_fields(self.path) - {"_metric"}
        self.skipped = 0
        self.skipped_example = ""
        self.errors: list[str] = []
        self._timestamps: dict[str, int] = {}

    def timestamp(self, label: str) -> int:
        ts = self._timestamps.get(label)
        if ts is None:
            ts = self._timestamps[label] = interval_timestamp(label, self.report.granularity)
        return ts

    def _error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    def points(self, explode: Mapping[str, str], header: Sequence[str],
               rows: Iterable[Sequence[str]], since: int | None = None,
               until: int | None = None) -> list[Point]:
        """Points of ``rows``; with ``since``/``until``, only intervals starting in
        ``[since, until)``."""
        index = {name: i for i, name in enumerate(header)}
        base = {}
        for name, value in explode.items():
            base[name] = sanitise(self.lookups.get(name, {}).get(value, value))
        unknown = sorted(self.fields - set(base) - set(index))
        if unknown:
            self._error(
                f"graphite.path {self.path!r} uses {', '.join('{' + u + '}' for u in unknown)}, "
                f"which is neither an explode placeholder nor a column (columns: "
                f"{', '.join(header)}; placeholders: {', '.join(base) or 'none'})")
            return []
        metrics = []
        for metric, column in self.metrics:
            if column not in index:
                self._error(f"graphite metric {metric!r} reads column {column!r}, which the "
                            f"report does not have (columns: {', '.join(header)})")
            else:
                metrics.append((metric, index[column]))
        row_fields = [(name, index[name]) for name in self.fields if name in index]
        fmt = self.prefix + self.path
        low = -math.inf if since is None else since
        high = math.inf if until is None else until
        stamps = self._timestamps
        out: list[Point] = []
        append = out.append
        try:
            for row in rows:
                ts = stamps.get(row[0])  # the hot loop: no method call per row
                if ts is None:
                    ts = self.timestamp(row[0])
                if not low <= ts < high:
                    continue
                values = base.copy()
                for name, i in row_fields:
                    values[name] = sanitise(row[i])
                for metric, i in metrics:
                    value = numeric(row[i])
                    if value is None:
                        self.skipped += 1
                        if not self.skipped_example:
                            self.skipped_example = (f"column {header[i]!r} is {row[i]!r} "
                                                    f"on {row[0]}")
                        continue
                    values["_metric"] = metric
                    append((fmt.format_map(values), value, ts))
        except (ValueError, AttributeError, IndexError, KeyError, TypeError) as e:
            self._error(f"graphite.path {self.path!r} cannot be formatted: "
                        f"{type(e).__name__}: {e}")
            return []
        return out

    def log_skipped(self) -> None:
        if self.skipped:
            log.info("graphite: report %r: %d value(s) skipped because they are empty or "
                     "not numbers (first: %s)", self.report.key, self.skipped,
                     self.skipped_example)
            self.skipped, self.skipped_example = 0, ""


def encode_lines(points: Sequence[Point]) -> bytes:
    return "".join([f"{path} {value} {ts}\n" for path, value, ts in points]).encode()


def pickle_frames(points: Sequence[tuple[str, str | float, int]]) -> Iterator[bytes]:
    """carbon's pickle protocol: a 4-byte length, then a pickled list of
    ``(path, (timestamp, value))``, split to stay under carbon's frame limit."""
    payload = pickle.dumps([(p, (ts, float(v))) for p, v, ts in points], protocol=2)
    if len(payload) > MAX_PICKLE_FRAME and len(points) > 1:
        half = len(points) // 2
        yield from pickle_frames(points[:half])
        yield from pickle_frames(points[half:])
        return
    yield struct.pack("!L", len(payload)) + payload


def parse_lines(chunks: Iterable[bytes]) -> Iterator[tuple[str, str, int]]:
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if line:
                path, value, ts = line.decode().split(" ")
                yield path, value, int(ts)
