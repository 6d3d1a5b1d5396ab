"""Read timelines for the read-only API: select series, filter dates, type cells.

Input: a report's config, the output folder and a parsed data request (explode
values, date range, columns). Output: a ``Table`` of header, column types and
rows, the timelines' cells unchanged as text, with the identity of every file
read so the caller can answer conditional requests.

Nothing here builds a path from request text: a report is looked up among the
config's keys, explode values among the report's configured values, and every
file is resolved and refused unless it lies inside the output folder (a
symlink pointing elsewhere is refused). Parsed files are kept in a small LRU
keyed by path and checked against the file's identity (inode, size, mtime,
ctime) on every request, so a request reads only the files it serves and only
when they changed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from ..config import Config, ReportConfig
from ..errors import BadRequestError, NotFoundError, TimelineError
from ..intervals import Granularity, parse_moment
from .. import timeline as tl
from ..rendering import listed

PARSED_FILES = 64  # parsed timelines kept in memory (a few MB each at most)
LISTED = 20  # values listed in an error message, at most

_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_NUMBER = r"(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?)?"
_NUMBER_LINES = re.compile(f"{_NUMBER}(?:\n{_NUMBER})*")


# -- requests --------------------------------------------------------------------


@dataclass(frozen=True)
class DataRequest:
    """What ``/api/reports/{report}/data`` asks for, parsed and checked."""

    report: ReportConfig
    explode: Mapping[str, str]  # fixed placeholders; the others become columns
    start: str | None = None  # first date label, inclusive
    end: str | None = None  # last date label, exclusive
    columns: tuple[str, ...] | None = None  # value/dimension columns, None: all


def find_report(config: Config, name: str) -> ReportConfig:
    """The report called ``name``. Raises NotFoundError naming the known ones."""
    if name not in config.report_keys:
        raise NotFoundError(f"unknown report {name!r}; the reports are: "
                            f"{_listed(config.report_keys)}")
    report = config.report(name)
    if report is None:
        errors = "; ".join(str(p) for p in config.errors if p.report == name)
        raise NotFoundError(f"report {name!r} cannot be served because its config has "
                            f"errors: {errors}")
    return report


def _listed(values: Sequence[str]) -> str:
    return listed(values, LISTED) or "none"


def parse_explode(report: ReportConfig, pairs: Sequence[tuple[str, str]]
                  ) -> dict[str, str]:
    """``explode.NAME=VALUE`` query pairs checked against the report's explode_by.

    Raises BadRequestError for an unknown placeholder or a repeated one with two
    values, NotFoundError for a value the report does not have.
    """
    possible = dict(report.explode_by)
    given: dict[str, str] = {}
    for name, value in pairs:
        if name not in possible:
            known = (f"its placeholders are: {', '.join(report.placeholders)}"
                     if report.placeholders else "it does not explode")
            raise BadRequestError(f"report {report.key!r} has no explode placeholder "
                                  f"{name!r}; {known}")
        if name in given and given[name] != value:
            raise BadRequestError(f"explode.{name} is given twice ({given[name]!r} and "
                                  f"{value!r}); give it once")
        if value not in possible[name]:
            raise NotFoundError(f"{value!r} is not a value of {name} for report "
                                f"{report.key!r}; the values are: "
                                f"{_listed(possible[name])}")
        given[name] = value
    return {name: given[name] for name in report.placeholders if name in given}


def parse_date(report: ReportConfig, key: str, text: str) -> str:
    """A ``from``/``to``/``date`` parameter as a date label. Raises BadRequestError."""
    try:
        moment = parse_moment(text)
    except ValueError as e:
        raise BadRequestError(f"{key}: {e}") from None
    return report.granularity.format(report.granularity.truncate(moment)
                                     if key == "date" else moment)


def parse_data_request(report: ReportConfig, params: Sequence[tuple[str, str]]
                       ) -> DataRequest:
    """The query string of a data request. Raises BadRequestError, NotFoundError."""
    pairs, start, end, columns = [], None, None, None
    for key, value in params:
        if key.startswith("explode."):
            pairs.append((key[len("explode."):], value))
        elif key == "from":
            start = parse_date(report, key, value)
        elif key == "to":
            end = parse_date(report, key, value)
        elif key == "columns":
            columns = tuple(c for c in value.split(",") if c)
        elif key != "format":
            raise BadRequestError(f"unknown parameter {key!r}; the parameters are: "
                                  "explode.NAME, from, to, columns, format")
    if start and end and end < start:
        raise BadRequestError(f"from {start} is after to {end}")
    return DataRequest(report, parse_explode(report, pairs), start, end, columns)


# -- files ----------------------------------------------------------------------------


def safe_path(output_folder: Path, path: Path) -> Path:
    """``path`` resolved, if it lies inside the output folder. Raises NotFoundError."""
    root = output_folder.resolve()
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise NotFoundError(f"{path} is outside the output folder {output_folder}; "
                            "it is not served")
    return resolved


def identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass
class ParsedFile:
    """One timeline as served: header, rows in file order, their date labels."""

    header: list[str]
    rows: list[list[str]]
    labels: list[str]  # rows[i][0], sorted
    identity: tuple[int, int, int, int]
    mtime: float
    _types: list[str] | None = None

    @property
    def types(self) -> list[str]:
        """``date`` for the first column, then ``number`` or ``string`` per column."""
        if self._types is None:
            self._types = ["date"] + [
                "number" if is_number_column([row[i] for row in self.rows]) else "string"
                for i in range(1, len(self.header))]
        return self._types


def is_number(text: str) -> bool:
    """Whether a cell is a number that JSON gives back as the same text (or empty)."""
    if text == "" or _INTEGER.fullmatch(text):
        return True
    return bool(_DECIMAL.fullmatch(text)) and repr(float(text)) == text


def is_number_column(cells: list[str]) -> bool:
    """``is_number`` of every cell, in one regex pass over the column (decimals are
    then checked one by one: few columns have many)."""
    if not _NUMBER_LINES.fullmatch("\n".join(cells)):
        return False
    return all(repr(float(v)) == v for v in cells if "." in v)


def typed(text: str, kind: str) -> object:
    if kind != "number":
        return text
    if text == "":
        return None
    try:
        return int(text)  # the column passed is_number: an int, else a decimal
    except ValueError:
        return float(text)


class TimelineCache:
    """Parsed timelines by path, checked against the file's identity on each use."""

    def __init__(self, size: int = PARSED_FILES):
        self.size = size
        self._files: OrderedDict[Path, ParsedFile] = OrderedDict()
        self._lock = threading.Lock()
        self.reads = 0  # files parsed, for tests and the benchmark

    def get(self, path: Path, granularity: Granularity) -> ParsedFile | None:
        """The file at ``path`` (None if there is none). Raises TimelineError."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise TimelineError(f"cannot read {path}: {e}") from e
        with self._lock:
            parsed = self._files.get(path)
            if parsed is not None and parsed.identity == identity(st):
                self._files.move_to_end(path)
                return parsed
        parsed = self._parse(path, granularity)
        if parsed is not None:
            with self._lock:
                self._files[path] = parsed
                self._files.move_to_end(path)
                while len(self._files) > self.size:
                    self._files.popitem(last=False)
        return parsed

    def _parse(self, path: Path, granularity: Granularity) -> ParsedFile | None:
        read = tl.read_data(path)
        if read is None:
            return None
        data, st = read
        self.reads += 1
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TimelineError(f"cannot read {path}: {e}") from e
        fast = _split_plain(text, data, path, granularity)
        if fast is not None:
            header, rows = fast
        else:  # quoted fields or CR: the timeline reader's own parse
            timeline = tl.parse_timeline(text, path, granularity)
            if timeline is None:
                return ParsedFile([], [], [], identity(st), st.st_mtime)
            header = timeline.header
            rows = [row for label in sorted(timeline.rows) for row in timeline.rows[label]]
        return ParsedFile(header, rows, [row[0] for row in rows], identity(st), st.st_mtime)


def _split_plain(text: str, data: bytes, path: Path, granularity: Granularity
                 ) -> tuple[list[str], list[list[str]]] | None:
    """Header and rows of a TSV without quotes or CRs, split in C; None otherwise.
    Checks what ``timeline.parse_timeline`` checks. Raises TimelineError."""
    if '"' in text or "\r" in text:
        return None
    lines = text.split("\n")
    header = lines[0].split("\t")
    labels = tl.first_fields(data)
    if labels is None:
        return None
    tl.check_labels(labels, data, path, granularity)
    width = len(header)
    rows = [line.split("\t") for line in lines[1:] if line]
    for number, row in enumerate(rows, start=2):
        if len(row) != width:
            if len(row) > width:
                raise TimelineError(f"{path}:{number}: {len(row)} fields but the header "
                                    f"has {width}; nothing was overwritten")
            row += [""] * (width - len(row))
    if any(rows[i][0] > rows[i + 1][0] for i in range(len(rows) - 1)):
        rows.sort(key=lambda row: row[0])  # stable: rows of one date keep their order
    return header, rows


# -- tables ------------------------------------------------------------------------------


@dataclass
class Table:
    """The answer to a data request: the files it read, its columns and rows."""

    report: str
    explode: dict[str, str]
    header: list[str]
    types: list[str]
    rows: list[list[str]]
    files: list[tuple[Path, tuple[int, int, int, int], float]] = field(default_factory=list)

    def typed_rows(self) -> list[list[object]]:
        kinds = self.types
        if all(k != "number" for k in kinds):
            return self.rows
        columns = [[typed(v, k) for v in column] if k == "number" else column
                   for column, k in zip(zip(*self.rows), kinds)] if self.rows else []
        return [list(row) for row in zip(*columns)]

    def as_json(self) -> dict:
        return {"report": self.report, "explode": self.explode,
                "columns": [{"name": n, "type": t} for n, t in zip(self.header, self.types)],
                "rows": self.typed_rows()}


def series_paths(request: DataRequest, output_folder: Path
                 ) -> list[tuple[dict[str, str], Path]]:
    """Each explode combination the request selects, and its timeline's path."""
    report = request.report
    out = []
    for explode in report.explode_combinations():
        if all(explode[k] == v for k, v in request.explode.items()):
            out.append((explode, report.timeline_path(output_folder, explode)))
    return out


def file_identities(request: DataRequest, output_folder: Path
                    ) -> list[tuple[Path, tuple[int, int, int, int], float] | None]:
    """The identity of every file the request would read (None for a missing one)."""
    out = []
    for _, path in series_paths(request, output_folder):
        try:
            st = os.stat(safe_path(output_folder, path))
        except FileNotFoundError:
            out.append(None)
            continue
        except OSError as e:
            raise TimelineError(f"cannot read {path}: {e}") from e
        out.append((path, identity(st), st.st_mtime))
    return out


def read_table(request: DataRequest, output_folder: Path, cache: TimelineCache) -> Table:
    """The rows a data request selects. Raises NotFoundError, BadRequestError,
    TimelineError (a file that can't be read or parsed)."""
    report = request.report
    free = [name for name in report.placeholders if name not in request.explode]
    series = []
    for explode, path in series_paths(request, output_folder):
        parsed = cache.get(safe_path(output_folder, path), report.granularity)
        if parsed is not None:
            series.append((explode, path, parsed))
    if not series and not free:
        where = "".join(f", {k}={v}" for k, v in request.explode.items())
        raise NotFoundError(f"report {report.key!r}{where} has no timeline yet "
                            f"({report.timeline_path(Path(), request.explode)} is "
                            "missing from the output folder)")
    # The union of the files' headers, first seen first; explode columns after the date.
    value_columns: list[str] = []
    kinds: dict[str, str] = {}
    date_name = series[0][2].header[0] if series and series[0][2].header else "date"
    for _, _, parsed in series:
        for name, kind in zip(parsed.header[1:], parsed.types[1:]):
            if name not in kinds:
                value_columns.append(name)
                kinds[name] = kind
            elif kind == "string":
                kinds[name] = "string"
    if request.columns is not None:
        unknown = [c for c in request.columns if c not in kinds]
        if unknown:
            raise BadRequestError(f"report {report.key!r} has no column "
                                  f"{', '.join(map(repr, unknown))}; its columns are: "
                                  f"{_listed(value_columns)}")
        value_columns = list(dict.fromkeys(request.columns))
    header = [date_name, *free, *value_columns]
    types = ["date", *(["string"] * len(free)), *(kinds[c] for c in value_columns)]
    parts = []
    for explode, _, parsed in series:
        index = {name: i for i, name in enumerate(parsed.header)}
        picks = [index.get(c) for c in value_columns]
        extra = [explode[name] for name in free]
        low = 0 if request.start is None else bisect.bisect_left(parsed.labels, request.start)
        high = (len(parsed.rows) if request.end is None
                else bisect.bisect_left(parsed.labels, request.end))
        if not extra and picks == list(range(1, len(parsed.header))):
            parts.append(parsed.rows[low:high])  # the file's own rows: no copy of cells
        else:
            parts.append([[row[0], *extra, *("" if i is None else row[i] for i in picks)]
                          for row in parsed.rows[low:high]])
    rows = parts[0] if len(parts) == 1 else list(heapq.merge(*parts, key=_label))
    files = [(path, parsed.identity, parsed.mtime) for _, path, parsed in series]
    return Table(report.key, dict(request.explode), header, types, rows, files)


def _label(row: list[str]) -> str:
    return row[0]
