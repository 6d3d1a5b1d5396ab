"""What a run did: the ``RunSummary`` a run returns, and its ``Failure`` records.

Input: the run loop's counts and failures, and what the sinks report when they
deliver (``Published``). Output: one summary, read by the caller, by the
sinks at the end of the run, and by the CLI to pick its exit status.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Mapping

from .intervals import Interval


@dataclass(frozen=True)
class Failure:
    """An interval (or a whole timeline) that recorded nothing, and why."""

    report: str
    explode: Mapping[str, str]
    interval: Interval | None  # None: the whole timeline failed (read or write)
    error: str
    at: dt.datetime

    def describe(self) -> str:
        where = f"report {self.report!r}"
        if self.explode:
            where += " (" + ", ".join(f"{k}={v}" for k, v in self.explode.items()) + ")"
        if self.interval is not None:
            where += f" interval {self.interval}"
        return f"{where}: {self.error}"


def utcnow() -> dt.datetime:
    """The clock, as naive UTC (every moment in this package is)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass
class Published:
    """What a sink delivered at the end of a run (``Sink.publish``)."""

    sent: int = 0  # points the receiver confirmed
    queued: int = 0  # points waiting for a later run (the Graphite outbox)
    failures: list[Failure] = field(default_factory=list)


@dataclass
class RunSummary:
    """What one run did: counts, failures, and what the sinks published."""

    intervals_executed: int = 0
    rows_written: int = 0
    files_written: int = 0
    failures: list[Failure] = field(default_factory=list)
    reports_run: set[str] = field(default_factory=set)
    backlog: dict[str, int] = field(default_factory=dict)  # report -> still missing
    graphite_sent: int = 0  # points delivered by the sinks (Published.sent)
    graphite_queued: int = 0  # points waiting in the outbox after the run
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM; the sinks still finish
    stopped_by_time_limit: bool = False  # passed max_run_seconds; failures say what is left

    @property
    def failed_reports(self) -> set[str]:
        return {f.report for f in self.failures}

    @property
    def ok(self) -> bool:
        return not self.failures

    def add_backlog(self, report: str, missing: int) -> None:
        self.backlog[report] = self.backlog.get(report, 0) + missing

    def add_published(self, published: Published) -> None:
        self.graphite_sent += published.sent
        self.graphite_queued += published.queued
        self.failures += published.failures
