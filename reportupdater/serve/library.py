"""The server's one adapter onto the library's ``status`` and ``render``.

Input: a config, the output folder and ``now``. Output: the reports' statuses
(the very ``ReportStatus`` objects ``reportupdater status`` prints, cached per
report by the identity of its files) and the text ``reportupdater render``
prints.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from ..config import Config, ReportConfig
from ..intervals import Interval
from ..lock import current_holder
from ..planning import Plan
from ..publish.state import state_path
from ..rendering import rendered
from ..statuses import ReportStatus, report_status, status, status_document


def file_identity(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class StatusCache:
    """``report_status`` per report, recomputed only when one of its files changed
    or ``now`` moved to another hour."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tuple, ReportStatus]] = {}
        self._lock = threading.Lock()
        self.computed = 0  # reports whose files were read, for tests and the benchmark

    @staticmethod
    def key(report: ReportConfig, output_folder: Path, now: dt.datetime) -> tuple:
        identities = tuple(file_identity(report.timeline_path(output_folder, explode))
                           for explode in report.explode_combinations())
        return (now.replace(minute=0, second=0, microsecond=0), identities)

    def report_status(self, report: ReportConfig, plan: Plan) -> ReportStatus:
        key = self.key(report, plan.output_folder, plan.now)
        with self._lock:
            entry = self._entries.get(report.key)
        if entry is not None and entry[0] == key:
            status = entry[1]
        else:
            status = report_status(report, plan)
            self.computed += 1
            with self._lock:
                self._entries[report.key] = (key, status)
        # status() sets last_failure on what it gets: hand out a copy.
        copy = ReportStatus(**{f: getattr(status, f) for f in status.__dataclass_fields__})
        copy.errors = list(status.errors)
        return copy


def statuses(config: Config, output_folder: Path, now: dt.datetime,
             cache: StatusCache) -> tuple[list[ReportStatus], str | None]:
    """One status per report key, as ``reportupdater status`` computes it, and why
    the state file can't be read (or None)."""
    found = status(config, output_folder, now, cache.report_status)
    return list(found), found.state_error


def run_in_progress(config: Config) -> dict[str, Any] | None:
    """The run holding the query folder's lock, as ``status`` shows it, or None."""
    holder = current_holder(config.query_folder)
    if holder is None:
        return None
    return holder.as_json(config.max_run_seconds, time.time())


def status_json(config: Config, output_folder: Path, now: dt.datetime,
                found: tuple[list[ReportStatus], str | None],
                running: dict[str, Any] | None) -> dict[str, Any]:
    """The document ``reportupdater status --format json`` prints."""
    return status_document(config, config.query_folder, output_folder, now, *found, running)


def state_file(output_folder: Path) -> Path:
    return state_path(output_folder)


def rendered_query(report: ReportConfig, date: dt.datetime,
                   explode: Mapping[str, str]) -> str:
    """What ``reportupdater render`` prints for the interval containing ``date``.

    Raises TemplateError."""
    interval = Interval.containing(date, report.granularity)
    return rendered(report, interval, dict(explode))
