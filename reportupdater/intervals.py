"""Time intervals: the unit of work of every report.

An interval is the half-open range ``[start, start + 1 unit)`` of one
granularity. Weeks start on Sunday and months are calendar months, as in the
original reportupdater. All datetimes are naive and mean UTC.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Iterator

_WEEK_DAYS = 7


class Granularity(enum.Enum):
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"

    @property
    def date_format(self) -> str:
        """How an interval start is written in a timeline's first column."""
        return "%Y-%m-%d %H:%M:%S" if self is Granularity.HOURS else "%Y-%m-%d"

    def truncate(self, moment: dt.datetime) -> dt.datetime:
        """The start of the interval that contains ``moment``."""
        if self is Granularity.HOURS:
            return moment.replace(minute=0, second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if self is Granularity.DAYS:
            return day
        if self is Granularity.WEEKS:
            # Python's Monday is 0; a week here starts on Sunday.
            return day - dt.timedelta(days=(day.weekday() + 1) % 7)
        return day.replace(day=1)

    def add(self, start: dt.datetime, count: int = 1) -> dt.datetime:
        """``start`` moved by ``count`` units (``start`` must be truncated)."""
        if self is Granularity.HOURS:
            return start + dt.timedelta(hours=count)
        if self is Granularity.DAYS:
            return start + dt.timedelta(days=count)
        if self is Granularity.WEEKS:
            return start + dt.timedelta(days=7 * count)
        months = start.month - 1 + count
        return start.replace(year=start.year + months // 12, month=months % 12 + 1)

    def format(self, start: dt.datetime) -> str:
        return start.strftime(self.date_format)

    def count(self, first: dt.datetime, last: dt.datetime) -> int:
        """How many interval starts lie in ``[first, last]`` (both truncated)."""
        if last < first:
            return 0
        if self is Granularity.MONTHS:
            return (last.year - first.year) * 12 + last.month - first.month + 1
        step = {Granularity.HOURS: 3600, Granularity.DAYS: 86400,
                Granularity.WEEKS: 7 * 86400}[self]
        return int((last - first).total_seconds()) // step + 1

    def index(self, start: dt.datetime) -> int:
        """The index of the interval starting at ``start`` (which must be truncated).

        Consecutive intervals have consecutive indexes, so a timeline's dates
        are a few (first, last) runs of integers.
        """
        if self is Granularity.HOURS:
            return start.toordinal() * 24 + start.hour
        if self is Granularity.DAYS:
            return start.toordinal()
        if self is Granularity.WEEKS:
            return start.toordinal() // _WEEK_DAYS  # Sundays are the multiples of 7
        return start.year * 12 + start.month - 1

    def start_of(self, index: int) -> dt.datetime:
        """The start of the interval with ``index``: the inverse of ``index``."""
        if self is Granularity.HOURS:
            return dt.datetime.fromordinal(index // 24).replace(hour=index % 24)
        if self is Granularity.DAYS:
            return dt.datetime.fromordinal(index)
        if self is Granularity.WEEKS:
            return dt.datetime.fromordinal(index * _WEEK_DAYS)
        return dt.datetime(index // 12, index % 12 + 1, 1)

    def starts(self, first: dt.datetime, last: dt.datetime) -> Iterator[dt.datetime]:
        """Every interval start from ``first`` to ``last`` inclusive, lazily."""
        current = first
        while current <= last:
            yield current
            current = self.add(current)


# What parse_moment's formats accept, zero-padded: fromisoformat reads it alike.
_ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\d(?:[ T]\d\d:\d\d(?::\d\d)?)?|"
                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", re.ASCII)


def parse_moment(text: str) -> dt.datetime:
    """Parse ``YYYY-MM-DD`` or ``YYYY-MM-DD[ T]HH:MM[:SS]`` (UTC, naive).

    Raises ValueError naming the text when it is neither.
    """
    text = text.strip()
    if _ISO_MOMENT.fullmatch(text):  # the usual spelling, without loading _strptime
        try:
            return dt.datetime.fromisoformat(text.removesuffix("Z"))
        except ValueError:
            pass  # e.g. month 13: the formats below word the error
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or a date and time "
                     "(YYYY-MM-DD HH:MM:SS)")


def as_datetime(value: object) -> dt.datetime:
    """A date, datetime or date string as a naive datetime; ValueError if not."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return parse_moment(value)
    raise ValueError(f"{value!r} is not a date")


@dataclass(frozen=True, order=True)
class Interval:
    """``[start, end)`` for one granularity, e.g. 2014-05-01 to 2014-06-01."""

    start: dt.datetime
    granularity: Granularity

    @classmethod
    def containing(cls, moment: dt.datetime, granularity: Granularity) -> "Interval":
        return cls(granularity.truncate(moment), granularity)

    @property
    def end(self) -> dt.datetime:
        return self.granularity.add(self.start)

    def next(self) -> "Interval":
        return Interval(self.end, self.granularity)

    def prev(self) -> "Interval":
        return Interval(self.granularity.add(self.start, -1), self.granularity)

    @property
    def label(self) -> str:
        """The interval's start as written in a timeline's first column."""
        return self.granularity.format(self.start)

    def __str__(self) -> str:
        fmt = "%Y-%m-%d %H:%M" if self.granularity is Granularity.HOURS else "%Y-%m-%d"
        return f"{self.start.strftime(fmt)}..{self.end.strftime(fmt)}"
