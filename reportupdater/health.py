"""Report the pipeline's own health to StatsD.

Input: the Runner's events (each interval's execution time, the run summary)
and the top-level ``statsd: {host, port, prefix}`` config. Output: at the end
of a run, one burst of StatsD metrics over UDP (the ``statsd`` package): what
ran, what failed, how long it took and how far behind each report is.

StatsD stamps each flush with its own clock, so it carries only these live
figures; report values go to carbon directly (``reportupdater.graphite``).
All names below get the configured prefix (default ``reportupdater``).
"""

from __future__ import annotations

import argparse
import logging
from typing import Mapping

import statsd

from . import cli
from .config import Config, ReportConfig, StatsdConfig
from .graphite import sanitise
from .intervals import Interval
from .pipeline import RunSummary

log = logging.getLogger(__name__)

# Every metric a run sends, by StatsD type; <report> is the report key, sanitised.
COUNTERS = ("reports_succeeded", "reports_failed", "intervals_executed", "intervals_failed",
            "rows_written", "files_written", "graphite_points_sent",
            "graphite_points_queued")
TIMERS = ("run", "report.<report>.execution")
GAUGES = ("report.<report>.backlog", "graphite_outbox_points")


class HealthReporter:
    """Run observer: collects execution times and sends everything at the end."""

    def __init__(self, client: statsd.StatsClient):
        self.client = client
        self.executions: list[tuple[str, float]] = []  # (report, milliseconds)
        self.failed_intervals = 0

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


def statsd_observers(config: Config, args: argparse.Namespace, options) -> list:
    """A HealthReporter when the config has ``statsd``; none with --no-graphite,
    whose development copies must not touch production metrics."""
    if config.statsd is None or getattr(args, "no_graphite", False):
        return []
    try:
        client = statsd_client(config.statsd)
    except OSError as e:
        log.warning("statsd: cannot use %s:%s (%s); this run sends no health metrics",
                    config.statsd.host, config.statsd.port, e)
        return []
    return [HealthReporter(client)]


cli.OBSERVER_FACTORIES.append(statsd_observers)
