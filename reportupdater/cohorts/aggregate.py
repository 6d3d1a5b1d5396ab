"""Aggregate per-user values into a cohort's columns.

Input: a metric name and its users' values (None for a null). Output: an
ordered mapping of aggregate column -> value. 0/1 metrics give ``users``,
``true`` and ``rate``; numbers give ``users``, ``sum``, ``mean``, ``median``,
``min`` and ``max``; both give ``missing``, the count of null values. A
metric with several value columns prefixes each aggregate with the column's
name (``net_sum``, ``ban_rate``); ``namespace_of_edits`` sums per namespace.
"""

from __future__ import annotations

from typing import Any, Sequence

from .metrics import METRICS

BOOLEAN_AGGREGATES = ("true", "rate")
NUMBER_AGGREGATES = ("sum", "mean", "median", "min", "max")


def aggregate_columns(metric: str) -> tuple[str, ...]:
    """Every aggregate column of ``metric``, in the order they are written."""
    spec = METRICS[metric]
    if spec.kind == "boolean":
        middle: tuple[str, ...] = BOOLEAN_AGGREGATES
    elif spec.kind == "number":
        middle = NUMBER_AGGREGATES
    elif spec.kind == "namespaces":
        middle = ("sum",)
    else:
        middle = ()
        for name in spec.fields:
            if name == "first":
                continue  # a timestamp: not aggregated
            kinds = BOOLEAN_AGGREGATES if name in spec.boolean_fields else NUMBER_AGGREGATES
            middle += tuple(f"{name}_{kind}" for kind in kinds)
    return ("users",) + middle + ("missing",)


def _median(values: list) -> Any:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _numbers(values: list) -> dict[str, Any]:
    if not values:
        return {"sum": 0, "mean": None, "median": None, "min": None, "max": None}
    return {"sum": sum(values), "mean": sum(values) / len(values), "median": _median(values),
            "min": min(values), "max": max(values)}


def _booleans(values: list) -> dict[str, Any]:
    true = sum(1 for v in values if v)
    return {"true": true, "rate": true / len(values) if values else None}


def aggregate(metric: str, values: Sequence[Any]) -> dict[str, Any]:
    """The aggregate columns of ``metric`` over ``values``."""
    spec = METRICS[metric]
    present = [v for v in values if v is not None]
    result: dict[str, Any] = {"users": len(present)}
    if spec.kind == "boolean":
        result.update(_booleans(present))
    elif spec.kind == "number":
        result.update(_numbers(present))
    elif spec.kind == "namespaces":
        totals: dict[int, int] = {}
        for counts in present:
            for namespace, count in counts.items():
                totals[namespace] = totals.get(namespace, 0) + count
        result["sum"] = {str(ns): totals[ns] for ns in sorted(totals)}
    else:
        for name in spec.fields:
            if name == "first":
                continue
            column = [v[name] for v in present]
            part = _booleans(column) if name in spec.boolean_fields else _numbers(column)
            result.update({f"{name}_{kind}": value for kind, value in part.items()})
    result["missing"] = len(values) - len(present)
    return {column: result[column] for column in aggregate_columns(metric)}
