"""The ``cohort`` engine: ``type: cohort`` reports, one row of aggregates per interval.

Input: a ``Query`` of a cohort report (its interval and explode values; no
text). Output: a ``Table`` with the interval's date and the report's
aggregate columns, from ``reportupdater.cohorts.measure``: the cohort (a
file, or its query for this interval) measured with the report's metric, one
query per wiki. The interval is the input window of ``window: input``
metrics; registration-mode metrics measure each user from their registration.
"""

from __future__ import annotations

from typing import Hashable, Mapping

from ..cohorts import Span, measure
from ..config import Config, ReportConfig
from ..errors import CohortError, ExecutionError
from ..intervals import Granularity
from . import Query, Table


class CohortEngine:
    """Measures cohort reports; connections live for one measurement."""

    def __init__(self, config: Config):
        self.config = config

    @staticmethod
    def pool_key(config: Config, report: ReportConfig,
                 explode: Mapping[str, str]) -> tuple[Hashable, int | None]:
        database = config.databases[config.cohorts[report.cohort.cohort].db]
        return ("cohort", database.key), database.max_connections

    @staticmethod
    def open(config: Config, report: ReportConfig, explode: Mapping[str, str]) -> "CohortEngine":
        return CohortEngine(config)

    def run(self, query: Query) -> Table:
        spec = query.report.cohort
        interval = query.interval
        span = Span(interval.start, interval.end, interval.granularity)
        try:
            result = measure(self.config, spec.cohort, spec.metric, spec.params, span=span,
                             explode=query.explode)
        except CohortError as e:
            raise ExecutionError(str(e)) from e
        date = (interval.start if interval.granularity is Granularity.HOURS
                else interval.start.date())
        row = (date, *(result.aggregates[column] for column in spec.aggregate))
        return Table(header=["date", *spec.aggregate], rows=[row])

    def close(self) -> None:
        pass
