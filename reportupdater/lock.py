"""One run per query folder at a time, and no run that holds it forever.

An advisory ``flock`` on ``<query folder>/.lock``. The kernel drops it when
the process dies, so a killed run never leaves a lock that blocks forever.
The file records who holds it (``LockHolder``: PID, host, start time in UTC),
so that a later run, and ``status``, can say which run is in progress and
since when. A later run that finds the lock held for longer than
``max_run_seconds`` raises ``RunStuckError`` rather than leaving quietly; a
run stops itself at that limit through ``RunDeadline``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import LockHeldError, RunStuckError, UsageError

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
# ``status`` peeks at the lock with a shared flock for an instant; a run
# starting at that instant tries again for this long before it gives way.
_RETRY_SECONDS = 0.2


def _utc(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(seconds: float) -> str:
    return str(dt.timedelta(seconds=int(max(seconds, 0))))


@dataclass(frozen=True)
class LockHolder:
    """The run that holds a query folder's lock, as its lock file says."""

    pid: int | None
    host: str | None
    started: float | None  # Unix time; from the file's mtime for a lock of an older version

    def held_seconds(self, now: float) -> float | None:
        return None if self.started is None else max(now - self.started, 0.0)

    def is_stuck(self, max_run_seconds: float | None, now: float) -> bool:
        held = self.held_seconds(now)
        return max_run_seconds is not None and held is not None and held > max_run_seconds

    def describe(self) -> str:
        """``pid 4242 on host web1, started 2026-11-01T00:00:00Z``"""
        text = f"pid {self.pid if self.pid is not None else 'unknown'}"
        if self.host:
            text += f" on host {self.host}"
        return text + (f", started {_utc(self.started)}" if self.started is not None else "")

    def status_line(self, max_run_seconds: float | None, now: float) -> str:
        """``Run in progress: pid 4242 on host web1, started 2026-11-01T00:00:00Z (for 0:12:03)``"""
        held = self.held_seconds(now)
        line = f"Run in progress: {self.describe()}"
        if held is not None:
            line += f" (for {_duration(held)})"
        if self.is_stuck(max_run_seconds, now):
            line += (f"; longer than max_run_seconds ({max_run_seconds:g} s): it looks stuck")
        return line

    def as_json(self, max_run_seconds: float | None, now: float) -> dict[str, Any]:
        held = self.held_seconds(now)
        return {"pid": self.pid, "host": self.host,
                "started": _utc(self.started) if self.started is not None else None,
                "seconds": int(held) if held is not None else None,
                "stuck": self.is_stuck(max_run_seconds, now)}


def read_holder(fd: int) -> LockHolder:
    """What the lock file open on ``fd`` says about its holder (never raises)."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
        mtime = os.fstat(fd).st_mtime
    except OSError:
        return LockHolder(None, None, None)
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if isinstance(record, dict):
        pid, host, started = record.get("pid"), record.get("host"), record.get("started")
        try:
            start = dt.datetime.strptime(str(started), "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.timezone.utc).timestamp()
        except ValueError:
            start = mtime
        return LockHolder(pid if isinstance(pid, int) else None,
                          host if isinstance(host, str) else None, start)
    # An older version wrote the PID alone, when it took the lock.
    first = text.split()[0] if text else ""
    return LockHolder(int(first) if first.isdigit() else None, None, mtime if text else None)


@contextmanager
def run_lock(query_folder: Path, max_run_seconds: float | None = None,
             clock: Callable[[], float] = time.time) -> Iterator[LockHolder]:
    """Hold the query folder's lock; yield this run's ``LockHolder``.

    Raises LockHeldError when another run holds it, RunStuckError when that run
    has held it for longer than ``max_run_seconds`` (by ``clock``, Unix time).
    """
    path = query_folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise UsageError(f"cannot create the lock file {path}: {e.strerror or e}") from e
    try:
        deadline = time.monotonic() + _RETRY_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    _refuse(path, read_holder(fd), max_run_seconds, clock())
                time.sleep(0.01)
        # os.uname().nodename is gethostname() without loading the socket module
        holder = LockHolder(os.getpid(), os.uname().nodename, float(int(clock())))
        record = {"pid": holder.pid, "host": holder.host, "started": _utc(holder.started)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        yield holder
    finally:
        os.close(fd)


def _refuse(path: Path, holder: LockHolder, max_run_seconds: float | None,
            now: float) -> None:
    if holder.is_stuck(max_run_seconds, now):
        raise RunStuckError(
            f"another run ({holder.describe()}) has held {path} for "
            f"{_duration(holder.held_seconds(now))}, longer than max_run_seconds "
            f"({max_run_seconds:g} s): it looks stuck. Check that process and kill it if it "
            "is hung; its lock goes with it")
    since = f", since {_utc(holder.started)}" if holder.started is not None else ""
    where = f" on host {holder.host}" if holder.host else ""
    pid = holder.pid if holder.pid is not None else "unknown"
    raise LockHeldError(f"another run (pid {pid}) holds {path}{since}{where}")


def current_holder(query_folder: Path) -> LockHolder | None:
    """The run in progress in ``query_folder``, or None. Writes nothing."""
    try:
        fd = os.open(query_folder / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None  # no lock file: no run ever started here
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class RunDeadline:
    """Stops a run that passes ``seconds``: a watchdog thread calls ``stop``.

    ``stop`` is called again at each poll until the run ends, so that a query
    started in the instant after the first call is stopped too. ``clock`` is
    monotonic seconds; tests pass their own.
    """

    def __init__(self, seconds: float, stop: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic, poll: float = 0.5):
        self.seconds = seconds
        self.stop = stop
        self.clock = clock
        self.poll = poll
        self.expired = False
        self._started = clock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True,
                                        name="reportupdater-deadline")

    def __enter__(self) -> "RunDeadline":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def describe(self) -> str:
        return f"the run passed max_run_seconds ({self.seconds:g} s)"

    def _watch(self) -> None:
        while not self._done.is_set():
            left = self._started + self.seconds - self.clock()
            if left <= 0 or self.expired:
                if not self.expired:
                    self.expired = True
                    log.error("%s: stopping its queries and scripts; what has finished is "
                              "written, the rest is left for the next run", self.describe())
                try:
                    self.stop()
                except Exception:  # noqa: BLE001 - the watchdog must keep watching
                    log.exception("stopping the run failed")
                left = self.poll
            self._done.wait(min(self.poll, left))
