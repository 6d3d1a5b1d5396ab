"""Turn an engine's table into timeline rows for one interval.

Input: a ``Table`` (header and rows of Python values), the report and the
interval. Output: the header and the rows as strings, grouped by the date in
their first column. A successful execution with no rows yields one row with
the interval's date and empty values, so the interval counts as done.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
from dataclasses import dataclass

from .config import ReportConfig
from .engines import Table
from .engines.output import looks_like_date
from .errors import ResultError
from .intervals import Granularity, Interval, as_datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntervalRows:
    """The rows one interval produced, ready to merge into a timeline."""

    interval: Interval
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # first field is the date label


def format_value(value: object) -> str:
    """A value as written in a TSV field: None is empty, bytes are UTF-8."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value else ""  # NaN is no number
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _row_date(value: object, granularity: Granularity) -> dt.datetime:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", errors="replace")
    moment = as_datetime(value)
    if granularity is not Granularity.HOURS:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        raise ValueError(f"{value!r} has no time, but the report is hourly")
    if isinstance(value, str) and len(value.strip()) == 10:
        raise ValueError(f"{value!r} has no time, but the report is hourly")
    return moment


# Values that equal the interval's label or (naive) start only if they mean
# it; anything else (an aware datetime, bytes, a subclass) is parsed.
_PLAIN = (str, dt.date, dt.datetime)


def interval_rows(table: Table, report: ReportConfig, interval: Interval) -> IntervalRows:
    """Check and format a table. Raises ResultError when it can't be recorded."""
    header = tuple(str(name) for name in table.header)
    if not header:
        raise ResultError("the result has no columns")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ResultError(f"the result has duplicate column names: {', '.join(duplicates)}")
    empty = [number for number, name in enumerate(header, start=1) if not name.strip()]
    if empty:
        raise ResultError(f"the result has an empty column name (column {empty[0]})")
    if looks_like_date(header[0]):
        # An unnamed date expression: each interval would bring a new column.
        raise ResultError(f"the result's first column is named {header[0]!r}, a date; give "
                          "it a name (for example AS date)")
    g = interval.granularity
    label = interval.label
    # The usual first value: the interval's own date, as text or as a date.
    own = {label, interval.start} if g is Granularity.HOURS else {
        label, interval.start, interval.start.date()}
    rows = []
    for number, row in enumerate(table.rows, start=1):
        if len(row) != len(header):
            raise ResultError(f"row {number} has {len(row)} values but the header has "
                              f"{len(header)}")
        if type(row[0]) in _PLAIN and row[0] in own:
            rows.append((label,) + tuple(format_value(v) for v in row[1:]))
            continue
        try:
            moment = _row_date(row[0], g)
        except ValueError as e:
            raise ResultError(f"row {number}: the first column ({header[0]!r}) must be the "
                              f"date, but {row[0]!r} is not one: {e}") from None
        if not interval.start <= moment < interval.end:
            raise ResultError(
                f"row {number} is dated {g.format(moment)}, outside the interval "
                f"{interval} being computed; a query must only return rows of its "
                "own interval")
        rows.append((g.format(moment),) + tuple(format_value(v) for v in row[1:]))
    if not rows:
        rows.append((label,) + ("",) * (len(header) - 1))
    elif not any(row[0] == label for row in rows):
        log.warning("%s: the result for %s has no row dated %s, so that interval will be "
                    "executed again on the next run", report.key, interval, interval.label)
    return IntervalRows(interval=interval, header=header, rows=tuple(rows))
