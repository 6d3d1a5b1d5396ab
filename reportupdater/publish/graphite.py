"""The Graphite sink: publish the rows each commit of a run wrote, new and rerun.

Input: the run's ``timeline_written`` calls (a report, its explode values,
the header and the rows written). Output: their points, sent through one
``GraphiteSender`` as the run goes (journaled at once), and at the end of the
run (``publish``) a ``Published`` with the points delivered and queued, and a
failure for each report whose points could not be built, naming the fix.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

from ..config import GraphiteConfig, ReportConfig
from ..summary import Failure, Published, utcnow
from .graphite_points import PointBuilder
from .outbox import GraphiteOutbox
from .sender import GraphiteSender

log = logging.getLogger(__name__)


class GraphiteSink:
    """Sends the rows each timeline commit wrote; delivers and reports at the end."""

    def __init__(self, config: GraphiteConfig, output_folder: Path,
                 sender: GraphiteSender | None = None):
        self.config = config
        self.sender = sender or GraphiteSender(config, GraphiteOutbox(output_folder))
        self.builders: dict[str, PointBuilder] = {}
        self.failed: dict[str, str] = {}  # report -> why its points were not built

    def builder(self, report: ReportConfig) -> PointBuilder:
        builder = self.builders.get(report.key)
        if builder is None:
            builder = self.builders[report.key] = PointBuilder(report, self.config)
        return builder

    def timeline_written(self, report: ReportConfig, explode: Mapping[str, str],
                         header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        if report.graphite is None:
            return
        try:
            points = self.builder(report).points(explode, header, rows)
        except Exception as e:  # noqa: BLE001 - recorded as the report's failure
            log.exception("graphite: points of report %r could not be built", report.key)
            self.failed.setdefault(report.key, f"{type(e).__name__}: {e}")
            return
        self.sender.send(points)

    def publish(self) -> Published:
        """Confirm delivery (the outbox first); what was sent, what waits, what failed."""
        delivery = self.sender.close()
        published = Published(sent=delivery.sent, queued=delivery.queued)
        now = utcnow()
        for builder in self.builders.values():
            builder.log_skipped()
            for error in builder.errors:
                published.failures.append(self._failure(builder.report.key, error, now))
        for key, error in self.failed.items():
            published.failures.append(self._failure(
                key, f"graphite points could not be built: {error}", now))
        if delivery.lost:
            published.failures.append(Failure(
                "graphite", {}, None, f"{delivery.lost} Graphite point(s) were neither "
                "delivered nor queued; resend them with 'reportupdater push'", now))
        if delivery.queued:
            log.warning("graphite: %d point(s) wait in the outbox %s; the next run or "
                        "'reportupdater push' delivers them first", delivery.queued,
                        self.sender.outbox.path)
        return published

    @staticmethod
    def _failure(report: str, error: str, now) -> Failure:
        failure = Failure(report, {}, None, error + " (fix it, then resend with "
                          f"'reportupdater push -r {report}')", now)
        log.error("%s", failure.describe())
        return failure
