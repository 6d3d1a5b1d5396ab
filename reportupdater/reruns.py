"""Rerun requests: files in ``<query folder>/.reruns/`` asking to recompute dates.

The format is the original reportupdater's: the start date on the first line,
the end date on the second, then one report name per line. A run re-executes
the intervals of those reports that overlap ``[start, end)`` for every explode
value and replaces their rows; a report is crossed off the request only once
all its intervals succeeded, and the file is deleted when none is left.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import RerunError
from .intervals import parse_moment
from .atomic import write_atomic

log = logging.getLogger(__name__)

RERUN_FOLDER = ".reruns"


@dataclass(frozen=True)
class RerunRequest:
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


def settle(request: RerunRequest, finished: set[str]) -> None:
    """Cross ``finished`` reports off a request; delete it when none is left."""
    remaining = [r for r in request.reports if r not in finished]
    if len(remaining) == len(request.reports):
        return
    try:
        if remaining:
            _write(request.path, request.start, request.end, remaining)
        else:
            request.path.unlink()
    except OSError as e:
        log.warning("could not update rerun request %s: %s", request.path, e)
