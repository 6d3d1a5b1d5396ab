"""The StatsD sink: report the pipeline's own health to StatsD.

Input: the run's ``interval_finished`` calls (each interval's execution time)
and, at the end, the run summary, which holds what the publishing sinks
delivered. Output: one burst of StatsD metrics over UDP (the ``statsd``
package): what ran, what failed, how long it took and how far behind each
report is.

StatsD stamps each flush with its own clock, so it carries only these live
figures; report values go to carbon directly (the Graphite sink). All names
below get the configured prefix (default ``reportupdater``).
"""

from __future__ import annotations

import logging
from typing import Mapping

import statsd

from ..config import ReportConfig, StatsdConfig
from ..intervals import Interval
from ..summary import RunSummary
from .graphite_points import sanitise

log = logging.getLogger(__name__)

# Every metric a run sends, by StatsD type; <report> is the report key, sanitised.
COUNTERS = ("reports_succeeded", "reports_failed", "intervals_executed", "intervals_failed",
            "rows_written", "files_written", "graphite_points_sent",
            "graphite_points_queued")
TIMERS = ("run", "report.<report>.execution")
GAUGES = ("report.<report>.backlog", "graphite_outbox_points")


class StatsdSink:
    """Collects execution times during the run and sends everything at the end."""

    def __init__(self, client: statsd.StatsClient):
        self.client = client
        self.executions: list[tuple[str, float]] = []  # (report, milliseconds)
        self.failed_intervals = 0

    @classmethod
    def connect(cls, config: StatsdConfig) -> "StatsdSink":
        """A sink for the ``statsd`` config. Raises OSError when the host can't be
        resolved."""
        return cls(statsd_client(config))

    def interval_finished(self, report: ReportConfig, explode: Mapping[str, str],
                          interval: Interval, ok: bool, seconds: float) -> None:
        self.executions.append((report.key, seconds * 1000.0))
        if not ok:
            self.failed_intervals += 1

    def run_finished(self, summary: RunSummary, seconds: float) -> None:
        failed = summary.failed_reports & summary.reports_run
        # One pipeline: a few UDP packets in a burst, so one StatsD flush
        # normally carries the whole run.
        with self.client.pipeline() as pipe:
            pipe.timing("run", seconds * 1000.0)
            pipe.incr("reports_succeeded", len(summary.reports_run - failed))
            pipe.incr("reports_failed", len(failed))
            pipe.incr("intervals_executed", summary.intervals_executed)
            pipe.incr("intervals_failed", self.failed_intervals)
            pipe.incr("rows_written", summary.rows_written)
            pipe.incr("files_written", summary.files_written)
            pipe.incr("graphite_points_sent", summary.graphite_sent)
            pipe.incr("graphite_points_queued", summary.graphite_queued)
            pipe.gauge("graphite_outbox_points", summary.graphite_queued)
            for report, backlog in sorted(summary.backlog.items()):
                pipe.gauge(f"report.{sanitise(report)}.backlog", backlog)
            for report, milliseconds in self.executions:
                pipe.timing(f"report.{sanitise(report)}.execution", milliseconds)
        self.client.close()


def statsd_client(config: StatsdConfig) -> statsd.StatsClient:
    """Raises OSError when the host can't be resolved."""
    prefix = config.prefix.strip(".") or None
    return statsd.StatsClient(config.host, config.port, prefix=prefix)
