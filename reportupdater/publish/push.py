"""Re-send history to Graphite from the TSV timelines (the ``push`` command's work).

Input: a config with a graphite section, an output folder, the reports to
push and an optional ``[since, until)`` range of interval starts. Output: the
points of every row in range, sent after the outbox through one
``GraphiteSender``, and a ``PushResult`` counting files, points, the delivery
and the errors (a timeline that can't be read, a path that does not fit the
data). It runs no query; TSVs are read one at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .. import timeline as tl
from ..config import Config, ReportConfig
from ..errors import TimelineError, UsageError
from ..planning import check_report_names, selected_reports
from .graphite_points import PointBuilder, epoch
from .outbox import GraphiteOutbox
from .sender import Delivery, GraphiteSender

log = logging.getLogger(__name__)


@dataclass
class PushResult:
    files: int = 0
    points: int = 0
    delivery: Delivery = field(default_factory=Delivery)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.delivery.lost


def push(config: Config, output_folder: Path, reports: Sequence[str] = (),
         since: dt.datetime | None = None, until: dt.datetime | None = None,
         sender: GraphiteSender | None = None) -> PushResult:
    """Push the named reports (default: every report with a graphite section).

    Raises UsageError when there is nowhere to push to, nothing to read, or a
    named report has no graphite section.
    """
    check_report_names(config, reports)
    if config.graphite is None:
        raise UsageError(f"the config {config.path} has no top-level graphite section "
                         "(host, port), so there is nowhere to push to")
    output_folder = Path(output_folder)
    if not output_folder.is_dir():
        raise UsageError(f"output folder {str(output_folder)!r} does not exist or is "
                         "not a folder")
    selected = selected_reports(config, reports)
    without = [r.key for r in selected if r.graphite is None and reports]
    if without:
        raise UsageError(f"report {', '.join(map(repr, without))} has no graphite section "
                         "(path, metrics), so it has no points to push")
    selected = [r for r in selected if r.graphite is not None]
    if not selected:
        log.warning("push: no report has a graphite section; only the outbox is delivered")
    return push_history(config, output_folder, selected, since, until, sender)


def push_history(config: Config, output_folder: Path, reports: Sequence[ReportConfig],
                 since: dt.datetime | None = None, until: dt.datetime | None = None,
                 sender: GraphiteSender | None = None) -> PushResult:
    """Send the points of every row of ``reports`` whose interval starts in
    ``[since, until)``, outbox first. TSVs are read one at a time."""
    assert config.graphite is not None
    sender = sender or GraphiteSender(config.graphite, GraphiteOutbox(output_folder))
    result = PushResult()
    since_ts = epoch(since) if since else None
    until_ts = epoch(until) if until else None
    try:
        for report in reports:
            builder = PointBuilder(report, config.graphite)
            for explode in report.explode_combinations():
                path = report.timeline_path(output_folder, explode)
                try:
                    timeline = tl.read_timeline(path, report.granularity)
                except TimelineError as e:
                    result.errors.append(str(e))
                    log.error("push: %s", e)
                    continue
                if timeline is None:
                    log.debug("push: %s does not exist", path)
                    continue
                result.files += 1
                rows = (row for label in sorted(timeline.rows) for row in timeline.rows[label])
                points = builder.points(explode, timeline.header, rows, since_ts, until_ts)
                result.points += len(points)
                sender.send(points)
            builder.log_skipped()
            for error in builder.errors:
                result.errors.append(f"report {report.key!r}: {error}")
                log.error("push: report %r: %s", report.key, error)
    finally:
        result.delivery = sender.close()
    return result
