"""Judge one series against its rule: failing, passing, or no judgement.

Input: a ``Series`` and, for ``stale``, the date labels of the intervals due
now, oldest first. Output: a ``Verdict``. Pure functions; no I/O.

- ``below X`` / ``above X``: the newest point's value is < X / > X (a value
  equal to X passes).
- ``change``: the newest value against the median of the ``baseline``
  values before it: fires if it is below ``median * (1 - drop)`` or above
  ``median * rise``. With fewer earlier values there is no judgement; with a
  median of 0 or less, ``drop`` can't fire.
- ``stale N``: none of the last N intervals due has a value.

Only the newest point is judged by value rules, so a backfill of years fires
at most once per series. A newest point with no value (empty) is no
judgement: an incident stays as it is.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

from .series import Series
from .settings import AlertRule, Condition, number_text


@dataclass(frozen=True)
class Verdict:
    failing: bool | None  # None: no judgement this time
    date: str | None = None  # the point judged (stale: the newest with data)
    value: Fraction | None = None
    baseline: Fraction | None = None  # change: the median
    low: Fraction | None = None  # the band of passing values, where there is one
    high: Fraction | None = None
    detail: str = ""  # one sentence: why it fails, passes or is not judged


def judge(series: Series, due: Sequence[str] = ()) -> Verdict:
    rule = series.rule
    if rule.condition is Condition.STALE:
        return _stale(rule, series, due)
    if not series.points:
        return Verdict(None, detail="no data points yet")
    date, value = series.points[-1]
    if value is None:
        return Verdict(None, date, detail=f"no value on {date}")
    if rule.condition is Condition.BELOW:
        failing = value < rule.threshold
        return Verdict(failing, date, value, low=rule.threshold,
                       detail=f"{number_text(value)} on {date} is "
                              f"{'below' if failing else 'not below'} "
                              f"{number_text(rule.threshold)}")
    if rule.condition is Condition.ABOVE:
        failing = value > rule.threshold
        return Verdict(failing, date, value, high=rule.threshold,
                       detail=f"{number_text(value)} on {date} is "
                              f"{'above' if failing else 'not above'} "
                              f"{number_text(rule.threshold)}")
    return _change(rule, series, date, value)


def _change(rule: AlertRule, series: Series, date: str, value: Fraction) -> Verdict:
    earlier = [v for _, v in series.points[:-1] if v is not None][-rule.baseline:]
    if len(earlier) < rule.baseline:
        return Verdict(None, date, value,
                       detail=f"{len(earlier)} earlier value(s), the median needs "
                              f"{rule.baseline}")
    median = Fraction(statistics.median(earlier))
    low = median * (1 - rule.drop) if rule.drop is not None and median > 0 else None
    high = median * rule.rise if rule.rise is not None and median >= 0 else None
    dropped = low is not None and value < low
    rose = high is not None and value > high
    if dropped:
        how = f"fell by more than {number_text(rule.drop)} from"
    elif rose:
        how = f"rose to more than x{number_text(rule.rise)}"
    else:
        how = "is within the limits of"
    return Verdict(dropped or rose, date, value, baseline=median, low=low, high=high,
                   detail=f"{number_text(value)} on {date} {how} the median "
                          f"{number_text(median)} of the previous {rule.baseline} point(s)")


def _stale(rule: AlertRule, series: Series, due: Sequence[str]) -> Verdict:
    window = list(due)[-rule.intervals:]
    with_data = [label for label, value in series.points if value is not None]
    newest = with_data[-1] if with_data else None
    newest_value = series.values().get(newest) if newest else None
    if len(window) < rule.intervals:
        return Verdict(None, newest, newest_value,
                       detail=f"{len(window)} interval(s) due so far, the rule needs "
                              f"{rule.intervals}")
    present = set(with_data)
    failing = not any(label in present for label in window)
    since = f"the newest data is from {newest}" if newest else "there is no data at all"
    if failing:
        detail = (f"no data for the last {rule.intervals} interval(s) due "
                  f"({window[0]} to {window[-1]}); {since}")
    else:
        detail = f"data within the last {rule.intervals} interval(s) due; {since}"
    return Verdict(failing, newest, newest_value, detail=detail)
