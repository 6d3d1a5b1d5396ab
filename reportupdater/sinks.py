"""The ``Sink`` protocol: what a run hands to Graphite, StatsD, the state file
and the progress display, and how it calls them.

A run is given its sinks explicitly, in order, and calls each hook of each
sink in that order: ``interval_finished`` for every interval executed (in
date order per timeline), ``timeline_written`` with the rows each commit
wrote, then at the end ``publish`` (deliver what is pending and say what was
delivered) on every sink, and only then ``run_finished`` with the whole
summary. So a sink that reports on the run (StatsD, the state file) sees what
the publishing sinks delivered without knowing they exist. Every hook is
optional, and a sink that raises is logged and does not break the run.
"""

from __future__ import annotations

import logging
from typing import Mapping, Protocol, Sequence

from .config import ReportConfig
from .intervals import Interval
from .summary import Published, RunSummary

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Every method is optional."""

    def interval_finished(self, report: ReportConfig, explode: Mapping[str, str],
                          interval: Interval, ok: bool, seconds: float) -> None: ...

    def timeline_written(self, report: ReportConfig, explode: Mapping[str, str],
                         header: Sequence[str], rows: Sequence[Sequence[str]]) -> None: ...

    def publish(self) -> Published | None:
        """Deliver what is pending; what was delivered and what failed."""

    def run_finished(self, summary: RunSummary, seconds: float) -> None: ...


def notify(sinks: Sequence[object], method: str, *args: object) -> list[object]:
    """Call ``method`` on every sink that has it, in order; their return values."""
    results = []
    for sink in sinks:
        hook = getattr(sink, method, None)
        if hook is not None:
            try:
                results.append(hook(*args))
            except Exception:  # noqa: BLE001 - a sink must not break the run
                log.exception("%s.%s failed", type(sink).__name__, method)
    return results
