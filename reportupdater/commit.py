"""Commit interval results to a timeline file, atomically, and remember what was written.

Input: a report, its timeline's path and the results of some of its
intervals, in date order. Output: the file, replaced whole (``timeline``
writes it aside, fsyncs and renames it in), the rows those intervals now have
in it (what the sinks publish), and an entry in the triage cache so that the
next run need not read the file again.

The usual daily run adds one date after the last one of hundreds of long
files: when a file is exactly as this tool last wrote it, new rows are
appended to its bytes without parsing it (the very bytes a full merge would
give). Otherwise the file is parsed, merged and, with ``max_data_points``,
trimmed to the report's window.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import schedule, timeline as tl
from .config import ReportConfig
from .errors import ReportUpdaterError, TimelineError
from .results import IntervalRows
from .triage import Coverage, TriageCache


@dataclass(frozen=True)
class Written:
    """What one commit wrote: the file's header, and the rows of the committed intervals."""

    header: Sequence[str]
    rows: list[Sequence[str]]


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TimelineError(f"cannot read {path}: {e}") from e


class Committer:
    """Writes results into timelines for one run; ``now`` places the trim window.

    Without ``trim`` (``run --from/--until``) no row outside the new results'
    intervals is touched, not even by ``max_data_points``.
    """

    def __init__(self, triage: TriageCache, now: dt.datetime, trim: bool = True):
        self.triage = triage
        self.now = now
        self.trim = trim

    def write(self, report: ReportConfig, path: Path, results: list[IntervalRows]) -> Written:
        """Merge ``results`` into the file at ``path``. Raises ReportUpdaterError;
        the file is then as it was, and forgotten by the triage cache."""
        try:
            return self._write(report, path, results)
        except ReportUpdaterError:
            self.triage.forget(path)
            raise

    def _write(self, report: ReportConfig, path: Path, results: list[IntervalRows]) -> Written:
        g = report.granularity
        existing = tl.read_data(path)
        appended = self._append(report, path, results, existing) if existing else None
        if appended is not None:
            merged = appended
        else:
            current = (tl.parse_timeline(_decode(existing[0], path), path, g)
                       if existing else None)
            merged = tl.merge(current, results)
            if report.max_data_points and self.trim:
                bounds = schedule.window(report, self.now)
                if bounds:
                    tl.trim_before(merged, g.format(bounds[0]))
            written_file = tl.write_timeline(path, merged, report.group)
            coverage = Coverage.from_labels(sorted(merged.rows), g)
            self._remember(path, written_file, merged, coverage)
        written = []
        for result in results:
            for label in sorted({row[0] for row in result.rows}):
                written += merged.rows.get(label, ())
        return Written(merged.header, written)

    def _append(self, report: ReportConfig, path: Path, results: list[IntervalRows],
                existing: tuple[bytes, os.stat_result]) -> tl.Timeline | None:
        """Add results after the file's rows without parsing it, when that gives the
        very bytes a full merge would: the file is exactly as this tool last wrote
        it, the results come after its last date, have its header, and nothing is
        trimmed. The usual daily run over hundreds of long files. None otherwise."""
        if report.max_data_points:
            return None
        known = self.triage.written(path, *existing)
        if known is None:
            return None
        header, last, coverage = known
        if any(list(r.header) != header or r.interval.label <= last for r in results):
            return None
        later = tl.merge(None, results)
        written_file = tl.append_timeline(path, existing[0], later, report.group)
        coverage = Coverage(coverage.granularity, coverage.runs + Coverage.from_labels(
            sorted(later.rows), coverage.granularity).runs)
        self._remember(path, written_file, later, coverage, last)
        return later

    def _remember(self, path: Path, written_file: tl.WrittenFile, timeline: tl.Timeline,
                  coverage: Coverage, last: str | None = None) -> None:
        """Record what was written in the triage cache, for the next runs."""
        if written_file.stat is None:
            self.triage.forget(path)
            return
        last = max(timeline.rows, default=last)
        self.triage.record(path, written_file.stat, written_file.seen_ns,
                           written_file.crc, coverage,
                           timeline.header if last is not None else None, last)
