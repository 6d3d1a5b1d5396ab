"""The state file: each report's last failure, kept by a run for ``status``.

Input: at the end of a run, its summary and the config's report keys.
Output: ``<output>/.reportupdater-state.json`` (schema ``STATE_VERSION``),
written atomically: the last failure of each report, dropped as soon as the
report runs again without failing, and left alone when nothing changed.
``read_state`` gives it back to ``status``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from .. import timeline as tl
from ..intervals import Interval
from ..summary import Failure, RunSummary

log = logging.getLogger(__name__)

STATE_NAME = ".reportupdater-state.json"
STATE_VERSION = 1
ERROR_CHARS = 300  # a state entry keeps the first line of an error, this long at most


def state_path(output_folder: Path) -> Path:
    return Path(output_folder) / STATE_NAME


def utc_text(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def interval_json(interval: Interval | None) -> dict[str, str] | None:
    if interval is None:
        return None
    g = interval.granularity
    return {"start": g.format(interval.start), "end": g.format(interval.end)}


def short_error(error: str) -> str:
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    first = lines[0] if lines else "(no message)"
    return first if len(first) <= ERROR_CHARS else first[:ERROR_CHARS - 3] + "..."


def failure_entry(failure: Failure, count: int) -> dict[str, Any]:
    """A report's last failure as the state file and ``status --format json`` hold it."""
    return {"at": utc_text(failure.at), "interval": interval_json(failure.interval),
            "explode": dict(failure.explode), "error": short_error(failure.error),
            "count": count}


def read_state(path: Path) -> tuple[dict[str, dict], str | None]:
    """The last failure per report, and why the file could not be read (or None)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return {}, f"state file {path} cannot be read: {e}"
    failures = raw.get("failures") if isinstance(raw, dict) else None
    if not isinstance(failures, dict) or raw.get("version") != STATE_VERSION:
        return {}, (f"state file {path} is not a version {STATE_VERSION} state file; "
                    "the next run replaces it")
    return {str(k): v for k, v in failures.items() if isinstance(v, dict)}, None


def write_state(path: Path, failures: Mapping[str, dict]) -> None:
    """Write the state file atomically. Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": STATE_VERSION, "failures": dict(failures)},
                      indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with tl.temporary_path(path) as temp:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def updated_failures(previous: Mapping[str, dict], summary: RunSummary,
                     report_keys: Iterable[str]) -> dict[str, dict]:
    """The state after a run: each report that ran keeps its last failure of this
    run, or none if it did not fail; entries of removed reports are dropped."""
    keys = set(report_keys)
    failures = {k: v for k, v in previous.items() if k in keys}
    by_report: dict[str, list[Failure]] = {}
    for failure in summary.failures:
        by_report.setdefault(failure.report, []).append(failure)
    for report in summary.reports_run:
        if report in by_report:
            failures[report] = failure_entry(by_report[report][-1], len(by_report[report]))
        else:
            failures.pop(report, None)
    return failures


class StateRecorder:
    """The sink keeping the state file of the output folder up to date."""

    def __init__(self, report_keys: Iterable[str], output_folder: Path):
        self.report_keys = tuple(report_keys)
        self.path = state_path(output_folder)

    def run_finished(self, summary: RunSummary, seconds: float) -> None:
        previous, problem = read_state(self.path)
        if problem:
            log.warning("%s", problem)
        failures = updated_failures(previous, summary, self.report_keys)
        if failures == previous and not problem:
            return  # nothing changed: leave the file (or its absence) alone
        try:
            write_state(self.path, failures)
        except OSError as e:
            log.warning("cannot write the state file %s: %s; 'reportupdater status' will "
                        "not show this run's failures", self.path, e)
