"""The progress sink: a bar on stderr for ``run``, intervals done of the total,
failures and ETA.

Input: the total number of intervals due (``count_planned``, a counting pass
over the run's plan, made only when a bar is shown) and the run's
``interval_finished`` calls. Output: one line on a stream, redrawn in place at
most ten times a second. ``wants_bar`` says whether to show it: ``auto``
only when the stream is a terminal, so logs that go to files or the journal
never get one. Log lines written to the same stream clear the bar first and
redraw it after.

Written here rather than with tqdm or rich: the bar is this one line, its
format is part of the documented output, the package stays free of a
terminal library, and the hourly run does not pay for importing one.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence, TextIO

from ..config import Config, ReportConfig
from ..intervals import Interval
from ..planning import Plan
from ..summary import RunSummary

REDRAW_SECONDS = 0.1  # at most ten redraws a second


def wants_bar(mode: str, stream: TextIO) -> bool:
    if mode == "always":
        return True
    if mode == "never":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _clock(seconds: float) -> str:
    return str(dt.timedelta(seconds=int(seconds)))


class ProgressBar:
    """The sink drawing ``[####----] done/total intervals, N failed, ETA``."""

    def __init__(self, total: int, stream: TextIO,
                 clock: Callable[[], float] = time.monotonic, width: int | None = None):
        self.total = total
        self.stream = stream
        self.clock = clock
        self.width = width
        self.done = 0
        self.failed = 0
        self.started = clock()
        self.finished_in: float | None = None
        self._drawn = 0  # length of the line on screen, 0 if none
        self._last_draw = float("-inf")
        self._log_handlers: list[logging.StreamHandler] = []
        self.lock = threading.RLock()

    def attach_logs(self) -> None:
        """Route the log handlers writing to our stream through the bar."""
        for handler in logging.getLogger().handlers:
            if (isinstance(handler, logging.StreamHandler)
                    and not isinstance(handler, logging.FileHandler)
                    and handler.stream is self.stream):
                handler.setStream(_BarAwareStream(self))
                self._log_handlers.append(handler)

    def detach_logs(self) -> None:
        for handler in self._log_handlers:
            if isinstance(handler.stream, _BarAwareStream):
                handler.setStream(self.stream)
        self._log_handlers = []

    def line(self) -> str:
        width = self.width or shutil.get_terminal_size((80, 24)).columns
        elapsed = self.clock() - self.started
        if self.finished_in is not None:
            tail = f"in {_clock(self.finished_in)}"
        elif self.done:
            remaining = elapsed / self.done * max(self.total - self.done, 0)
            tail = f"ETA {_clock(remaining)}"
        else:
            tail = "ETA -:--:--"
        percent = min(self.done * 100 // self.total, 100) if self.total else 100
        text = (f" {self.done}/{self.total} intervals {percent}%, {self.failed} failed, "
                f"{tail}")
        # Sized for the longest text this run can show, so the bar does not jump.
        longest = len(f" {self.total}/{self.total} intervals 100%, {self.total} failed, "
                      "ETA 00:00:00")
        cells = max(10, min(40, width - longest - 3))
        filled = cells * percent // 100
        return f"[{'#' * filled}{'-' * (cells - filled)}]{text}"[:max(width - 1, 20)]

    def draw(self, force: bool = False) -> None:
        with self.lock:
            now = self.clock()
            if not force and now - self._last_draw < REDRAW_SECONDS:
                return
            self._last_draw = now
            text = self.line()
            self.stream.write("\r" + text.ljust(self._drawn))
            self.stream.flush()
            self._drawn = len(text)

    def clear(self) -> None:
        with self.lock:
            if self._drawn:
                self.stream.write("\r" + " " * self._drawn + "\r")
                self._drawn = 0

    # -- sink hooks ----------------------------------------------------------

    def interval_finished(self, report: ReportConfig, explode: Mapping[str, str],
                          interval: Interval, ok: bool, seconds: float) -> None:
        self.done += 1
        self.failed += not ok
        self.draw(force=self.done == self.total or not ok)  # a failure shows at once

    def run_finished(self, summary: RunSummary, seconds: float) -> None:
        with self.lock:
            self.finished_in = seconds
            self.draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0
        self.detach_logs()


class _BarAwareStream:
    """What log handlers write to while a bar is shown on the same stream."""

    def __init__(self, bar: ProgressBar):
        self.bar = bar
        self.stream = bar.stream

    def write(self, text: str) -> int:
        with self.bar.lock:
            drawn = self.bar._drawn
            self.bar.clear()
            written = self.stream.write(text)
            if drawn:
                self.bar.draw(force=True)
            return written

    def flush(self) -> None:
        self.stream.flush()


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence logging: the run itself reports what the counting pass would (an
    unreadable file, a bad rerun request), and once is enough."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def count_planned(config: Config, output_folder: Path, now: dt.datetime,
                  reports: Sequence[str] = (), start: dt.datetime | None = None,
                  until: dt.datetime | None = None) -> int:
    """How many intervals a run would execute now."""
    with _quiet():
        plan = Plan(config, output_folder, now, reports, start=start, until=until)
        return sum(1 for _ in plan.intervals())
