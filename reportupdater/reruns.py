"""Rerun requests: files in ``<query folder>/.reruns/`` asking to recompute dates.

The format is the original reportupdater's: the start date on the first line,
the end date on the second, then one report name per line. A run re-executes
the intervals of those reports that overlap ``[start, end)`` for every explode
value and replaces their rows; a report is crossed off the request only once
all its intervals succeeded, and the file is deleted when none is left.

No request is dropped silently (``settle_requests``, after each run). One that
names only unknown reports, or whose dates are all after ``now``, is moved to
``.reruns/rejected/`` with a ``<name>.reason`` file beside it; the unknown
reports of a request that also names known ones go there too. The dates a
report could not do yet (not due before a later run) stay in the request,
which is narrowed to them. ``check_requests`` says all this about the files
on disk, for ``validate``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterable, Mapping

from . import schedule
from .config import Config
from .errors import RerunError
from .intervals import parse_moment
from .atomic import write_atomic

log = logging.getLogger(__name__)

RERUN_FOLDER = ".reruns"
REJECTED_FOLDER = "rejected"  # inside RERUN_FOLDER
REASON_SUFFIX = ".reason"


@dataclass(frozen=True)
class RerunRequest:
    """A file of ``.reruns/``: recompute these reports (or all) from start to end."""

    path: Path
    start: dt.datetime
    end: dt.datetime
    reports: tuple[str, ...]


def parse_request(path: Path) -> RerunRequest:
    """Parse one request file. Raises RerunError naming the file and the line."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        raise RerunError(f"{path}: cannot read: {e}") from e
    lines = [line for line in lines if line]
    if len(lines) < 2:
        raise RerunError(f"{path}: expected a start date, an end date and report names, "
                         f"one per line; found {len(lines)} line(s)")
    try:
        start, end = parse_moment(lines[0]), parse_moment(lines[1])
    except ValueError as e:
        raise RerunError(f"{path}: {e}") from None
    if not start < end:
        raise RerunError(f"{path}: start {lines[0]} is not before end {lines[1]}")
    return RerunRequest(path, start, end, tuple(lines[2:]))


def load_requests(query_folder: Path) -> list[RerunRequest]:
    """Every parseable request; unparseable ones are kept on disk and logged."""
    folder = query_folder / RERUN_FOLDER
    if not folder.is_dir():
        return []
    requests = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            requests.append(parse_request(path))
        except RerunError as e:
            log.warning("ignoring rerun request (the file is kept): %s", e)
    return requests


def validate_rerun(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> None:
    if not start < end:
        raise RerunError(f"START {start:%Y-%m-%d} must be before END {end:%Y-%m-%d}")
    if end > now:
        raise RerunError(f"END {end:%Y-%m-%d} is in the future (now is "
                         f"{now:%Y-%m-%d %H:%M} UTC); data for it cannot exist yet")


def write_request(query_folder: Path, start: dt.datetime, end: dt.datetime,
                  reports: Iterable[str]) -> Path:
    """Write a request file (atomically) and return its path."""
    folder = query_folder / RERUN_FOLDER
    try:
        folder.mkdir(exist_ok=True)
        name = f"{time.strftime('%Y%m%d%H%M%S', time.gmtime())}_{os.getpid()}.txt"
        path = folder / name
        _write(path, start, end, reports)
    except OSError as e:
        raise RerunError(f"cannot write a rerun request into {folder}: {e}") from e
    return path


def _format(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d" if moment.time() == dt.time() else "%Y-%m-%d %H:%M:%S")


def _write(path: Path, start: dt.datetime, end: dt.datetime, reports: Iterable[str]) -> None:
    write_atomic(path, ("\n".join([_format(start), _format(end), *reports]) + "\n"
                        ).encode("utf-8"))


def unknown_reports(request: RerunRequest, report_keys: Collection[str]) -> list[str]:
    return [r for r in request.reports if r not in report_keys]


def rejection(request: RerunRequest, report_keys: Collection[str],
              now: dt.datetime) -> str | None:
    """Why a run refuses the whole request, or None if it takes it."""
    reasons = []
    unknown = unknown_reports(request, report_keys)
    if len(unknown) == len(request.reports):
        reasons.append(f"it names only unknown report(s) {_names(unknown) or '(none)'}")
    if request.start >= now:
        reasons.append(f"its dates {_format(request.start)} to {_format(request.end)} are "
                       f"all after now ({now:%Y-%m-%d %H:%M} UTC): no data exists for them "
                       "yet")
    return "; ".join(reasons) or None


def due_until(config: Config, report: str, now: dt.datetime) -> dt.datetime | None:
    """The end of the last interval of ``report`` due at ``now`` (None: none is due):
    a run can recompute the dates before it, not those after."""
    settings = config.report(report)
    bounds = schedule.window(settings, now) if settings is not None else None
    if bounds is None:
        return None
    return settings.granularity.add(bounds[1], 1)


def settle_requests(requests: Iterable[RerunRequest], config: Config,
                    finished: Collection[str], now: dt.datetime) -> None:
    """After a run: reject, narrow, cross off or delete each request.

    ``finished``: the reports that ran with no failure, so every interval of
    theirs that was due at ``now`` was recomputed.
    """
    for request in requests:
        reason = rejection(request, config.report_keys, now)
        if reason is not None:
            reject(request.path, reason)
            continue
        reports = list(request.reports)
        unknown = unknown_reports(request, config.report_keys)
        if unknown and _reject_part(request, unknown, config):
            reports = [r for r in reports if r not in unknown]
        # What is left of each report, by the start of its remaining dates.
        parts: dict[dt.datetime, list[str]] = {}
        for report in reports:
            start = request.start
            if report in finished:
                done = due_until(config, report, now)
                if done is not None and done >= request.end:
                    continue  # crossed off
                start = max(start, done) if done is not None else start
            parts.setdefault(start, []).append(report)
        for start, names in parts.items():
            undone = [n for n in names if n in finished]
            if undone:
                log.warning("rerun request %s: %s to %s could not be done yet for report(s) "
                            "%s (not due at %s UTC); the request is kept for a later run",
                            request.path, _format(start), _format(request.end),
                            _names(undone), f"{now:%Y-%m-%d %H:%M}")
        if list(parts.items()) != [(request.start, list(request.reports))]:
            _rewrite(request, parts)


def _rewrite(request: RerunRequest, parts: Mapping[dt.datetime, list[str]]) -> None:
    """Replace the request by one file per remaining part (none: delete it)."""
    try:
        paths = [request.path]
        for start, names in parts.items():
            path = paths.pop() if paths else _free_path(request.path.with_name(
                f"{request.path.stem}_from_{start:%Y%m%d%H%M%S}{request.path.suffix}"))
            _write(path, start, request.end, names)
        for path in paths:
            path.unlink()
    except OSError as e:
        log.warning("could not update rerun request %s: %s", request.path, e)


def reject(path: Path, reason: str) -> Path | None:
    """Move a request to ``.reruns/rejected/``, with the reason beside it."""
    try:
        target = _rejected_path(path)
        _write_reason(target, reason)
        os.replace(path, target)
    except OSError as e:
        log.warning("rerun request %s is rejected (%s), but cannot be moved to %s/: %s; "
                    "it is left in place", path, reason, REJECTED_FOLDER, e)
        return None
    log.warning("rerun request %s is rejected and moved to %s: %s", path, target, reason)
    return target


def _reject_part(request: RerunRequest, unknown: list[str], config: Config) -> bool:
    """Put the unknown reports of a request in ``rejected/``; False if that failed."""
    reason = f"unknown report(s) {_names(unknown)} (the config {config.path} has no such key)"
    try:
        target = _rejected_path(request.path)
        _write_reason(target, reason)
        _write(target, request.start, request.end, unknown)
    except OSError as e:
        log.warning("rerun request %s names %s, but they cannot be moved to %s/: %s; they "
                    "stay in the request", request.path, reason, REJECTED_FOLDER, e)
        return False
    log.warning("rerun request %s names %s: they are moved to %s; the other reports are "
                "rerun", request.path, reason, target)
    return True


def _rejected_path(path: Path) -> Path:
    folder = path.parent / REJECTED_FOLDER
    folder.mkdir(exist_ok=True)
    return _free_path(folder / path.name)


def _free_path(path: Path) -> Path:
    """``path``, or ``path.1``, ``path.2``... whichever does not exist yet."""
    candidate, n = path, 0
    while candidate.exists() or candidate.with_name(candidate.name + REASON_SUFFIX).exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


def _write_reason(request_path: Path, reason: str) -> None:
    moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_atomic(request_path.with_name(request_path.name + REASON_SUFFIX),
                 f"rejected at {moment}: {reason}\n".encode("utf-8"))


def _names(reports: Iterable[str]) -> str:
    return ", ".join(map(repr, reports))


def check_requests(query_folder: Path, report_keys: Collection[str], now: dt.datetime
                   ) -> list[tuple[Path, str, str]]:
    """(file, severity, message) for every request waiting in ``.reruns/`` and every
    rejected one: what the next run will do with it. Severity "note" for a request
    that will simply run, "warning" for the rest."""
    folder = query_folder / RERUN_FOLDER
    found: list[tuple[Path, str, str]] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            request = parse_request(path)
        except RerunError as e:
            reason = str(e).removeprefix(f"{path}: ")
            found.append((path, "warning", f"ignored by runs: {reason}"))
            continue
        reason = rejection(request, report_keys, now)
        unknown = unknown_reports(request, report_keys)
        dates = f"{_format(request.start)} to {_format(request.end)}"
        if reason is not None:
            found.append((path, "warning", f"{reason}; the next run moves it to "
                          f"{RERUN_FOLDER}/{REJECTED_FOLDER}/"))
            continue
        if unknown:
            found.append((path, "warning", f"names unknown report(s) {_names(unknown)}; the "
                          f"next run moves them to {RERUN_FOLDER}/{REJECTED_FOLDER}/"))
        if request.end > now:
            found.append((path, "warning", f"ends after now ({now:%Y-%m-%d %H:%M} UTC): runs "
                          f"recompute the dates up to now and keep the rest for later"))
        known = [r for r in request.reports if r not in unknown]
        found.append((path, "note", f"pending: the next run recomputes {dates} of "
                      f"{_names(known)}"))
    rejected = folder / REJECTED_FOLDER
    if rejected.is_dir():
        for path in sorted(rejected.iterdir()):
            if not path.is_file() or path.name.endswith(REASON_SUFFIX):
                continue
            try:
                why = path.with_name(path.name + REASON_SUFFIX).read_text(
                    encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                why = "(no reason file)"
            found.append((path, "warning", f"{why}. Correct it and move it back to "
                          f"{RERUN_FOLDER}/, or delete it"))
    return found
