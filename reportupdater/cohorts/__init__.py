"""Standard user-cohort metrics: one definition each, as set-based SQL.

A cohort is a list of users (a file of IDs or names, or a query returning
``user_id``); a metric is measured for every member with one query per wiki,
and aggregated over the cohort. ``measure`` is the entry point; the
``metric`` command, ``type: cohort`` reports and the API all call it. The
definitions are in docs/cohorts.md.
"""

import importlib
from typing import Any

# Where each public name lives. Loaded on first use, so that loading the config
# (which reads cohort settings through .spec) does not load the metrics engine.
_HOME = {
    "aggregate": "aggregate", "aggregate_columns": "aggregate",
    "Measurement": "measure", "Span": "measure", "UserValue": "measure",
    "measure": "measure", "render_metric": "measure",
    "Member": "members", "parse_members": "members",
    "METRICS": "metrics", "MetricParams": "metrics", "metric_params": "metrics",
    "CohortConfig": "spec", "CohortReport": "spec",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value
