"""Standard user-cohort metrics: one definition each, as set-based SQL.

A cohort is a list of users (a file of IDs or names, or a query returning
``user_id``); a metric is measured for every member with one query per wiki,
and aggregated over the cohort. ``measure`` is the entry point; the
``metric`` command, ``type: cohort`` reports and the API all call it. The
definitions are in docs/cohorts.md.
"""

from .aggregate import aggregate, aggregate_columns
from .measure import Measurement, Span, UserValue, measure, render_metric
from .members import Member, parse_members
from .metrics import METRICS, MetricParams, metric_params
from .spec import CohortConfig, CohortReport

__all__ = ["METRICS", "CohortConfig", "CohortReport", "Measurement", "Member",
           "MetricParams", "Span", "UserValue", "aggregate", "aggregate_columns", "measure",
           "metric_params", "parse_members", "render_metric"]
