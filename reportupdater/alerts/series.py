"""Cut a report's timelines into the series an alert rule judges.

Input: a report, one rule, and the timelines of the report's explode
combinations (as read from the TSV files). Output: ``Series``, each the
points ``(date, value)`` of one explode combination and one combination of
dimension values, oldest first.

A rule's ``where`` picks explode combinations (by placeholder) and rows (by
column); the rows it picks are one series. Without ``where``, the rows are
split by the dimension columns: every column but the date and the rule's
column whose values are not all numbers (a ``by`` list names them instead).
Rows of one series that share a date are added up. An
empty value (or one that is no number) is "no value", kept as ``None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

from .settings import AlertRule

Point = tuple[str, Fraction | None]  # date label, value (None: no value)


@dataclass(frozen=True)
class Series:
    """The points of one rule on one explode combination and dimension values."""

    report: str
    rule: AlertRule
    explode: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]  # where (on columns) and dimension values
    points: tuple[Point, ...]  # oldest first, one per date

    def name(self) -> str:
        """``wiki=enwiki, editor=wikitext_2017``, or ``all rows``."""
        pairs = [*self.explode, *self.labels]
        return ", ".join(f"{k}={v}" for k, v in pairs) if pairs else "all rows"

    def values(self) -> dict[str, Fraction]:
        return {label: value for label, value in self.points if value is not None}


class ColumnMissing(Exception):
    """A rule names a column (or ``where``/``by`` key) its report's timeline lacks."""


def parse_value(text: str) -> Fraction | None:
    """A TSV value as a number, or None when it is empty or no finite number."""
    text = text.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    try:
        return Fraction(text)
    except ValueError:  # "1_000" and the like float() takes
        return Fraction(number)


def explode_matches(rule: AlertRule, explode: Mapping[str, str]) -> bool:
    return all(explode[k] == v for k, v in rule.where if k in explode)


def dimension_columns(rule: AlertRule, header: Sequence[str],
                      rows: Iterable[Sequence[str]]) -> list[str]:
    """The columns that tell one series from another (see the module's docstring)."""
    if rule.by is not None:
        return list(rule.by)
    if rule.where:
        return []  # the rows picked are one series
    where = {k for k, _ in rule.where}
    candidates = [i for i, name in enumerate(header)
                  if i > 0 and name != rule.column and name not in where]
    textual = set()
    for row in rows:
        for i in candidates:
            if i not in textual and row[i].strip() and parse_value(row[i]) is None:
                textual.add(i)
        if len(textual) == len(candidates):
            break
    return [header[i] for i in candidates if i in textual]


def cut_series(report: str, rule: AlertRule, explode: Mapping[str, str],
               header: Sequence[str], rows_by_date: Mapping[str, Sequence[Sequence[str]]]
               ) -> list[Series]:
    """The series of one timeline. Raises ColumnMissing.

    For ``stale`` rules there is one series per timeline: the rows the
    ``where`` picks, all dimensions together.
    """
    index = {name: i for i, name in enumerate(header)}
    needed = [rule.column] + [k for k, _ in rule.where if k not in explode]
    if rule.by:
        needed += list(rule.by)
    missing = [name for name in needed if name not in index]
    if missing:
        raise ColumnMissing(
            f"alert rule {rule.name!r} reads column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))}, which the timeline does not have "
            f"(columns: {', '.join(header)})")
    filters = [(index[k], v) for k, v in rule.where if k not in explode]
    all_rows = [row for rows in rows_by_date.values() for row in rows
                if all(row[i] == v for i, v in filters)]
    dimensions = [] if not rule.judges_values else \
        dimension_columns(rule, header, all_rows)
    value_at = index[rule.column]
    dim_at = [index[name] for name in dimensions]
    by_key: dict[tuple[str, ...], dict[str, Fraction | None]] = {}
    for label in sorted(rows_by_date):
        for row in rows_by_date[label]:
            if not all(row[i] == v for i, v in filters):
                continue
            key = tuple(row[i] for i in dim_at)
            points = by_key.setdefault(key, {})
            value = parse_value(row[value_at])
            previous = points.get(label)
            if value is None:
                points.setdefault(label, None)
            else:
                points[label] = value if previous is None else previous + value
    if not by_key and not dim_at:
        by_key[()] = {}  # a timeline with no matching rows: stale sees no data
    where_labels = tuple((k, v) for k, v in rule.where if k not in explode)
    explode_pairs = tuple(explode.items())
    return [Series(report, rule, explode_pairs,
                   where_labels + tuple(zip(dimensions, key)),
                   tuple(sorted(points.items())))
            for key, points in sorted(by_key.items())]
