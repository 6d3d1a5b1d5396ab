"""Execute the due intervals of many timelines on ``jobs`` workers, each
database under its connection limit.

Input: timelines (objects with ``report``, ``explode``, ``due``, an iterator
of intervals, and ``error``, set if the timeline can't run at all), an
``EnginePool`` that says which slot (database, shard, Hive backend) each
timeline runs on and its limit, and an ``execute(timeline, interval, slot)``
function. Output, to the main thread, in the order things happen: one
``Event`` per interval executed (with its place in its timeline, ``seq``),
and one closing ``Event`` per timeline that had work or an error, once all
its events have been handed over. The main thread alone sees events, so it
alone needs to touch the run's results.

A worker that is free takes the next interval itself: from the open timeline
with the fewest intervals running whose slot is below its limit, the oldest
on a tie. ``jobs`` timelines with work are kept open; only while every open
one waits for a slot at its limit are more opened (up to ``_MAX_OPEN_PER_JOB``
per job), so another database can use the free worker, and memory holds only
those timelines. Timelines are taken from the iterator lazily, as they are
opened. A timeline's slot is looked up (which may mean a DNS query for a
shard) outside the scheduler's lock. With one job the main thread executes
each interval itself: there is nothing to overlap.
"""

from __future__ import annotations

import itertools
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from .engines import EnginePool, Slot
from .errors import ReportUpdaterError
from .intervals import Interval

# Timelines open at once, per job, while every open one waits for a slot at
# its limit (each holds only its plan and finished results).
_MAX_OPEN_PER_JOB = 4


@dataclass(frozen=True)
class Event:
    """Something the main thread must see: an interval's result, or a timeline closing."""

    timeline: Any
    seq: int = -1  # the interval's place among its timeline's, from 0
    result: Any = None  # what ``execute`` returned; None for a closing event
    closed: bool = False  # nothing more of the timeline will be reported
    error: str | None = None  # why it closed without running (its slot can't be found)
    dropped: int = 0  # its intervals that were given up and not executed


class _Lane:
    """The scheduling state of one open timeline; changes under the scheduler's lock,
    but for ``delivered``, which only the main thread counts."""

    def __init__(self, timeline: Any):
        self.timeline = timeline
        self.due: Iterator[Interval] = timeline.due
        self.slot: Slot | None = None  # set when first picked
        self.resolving = False  # a worker is looking up its slot
        self.submitted = 0
        self.running = 0
        self.delivered = 0
        self.exhausted = False
        self._next: Interval | None = None  # planned, not handed out yet
        self.stopped = False  # nothing more of it runs
        self.error: str | None = timeline.error
        self.dropped = 0
        self.closed = False

    def look_ahead(self) -> None:
        """Plan one interval ahead, so ``has_work`` is exact."""
        if self._next is None and not self.exhausted:
            self._next = next(self.due, None)
            self.exhausted = self._next is None

    def next_interval(self) -> Interval:
        interval, self._next = self._next, None
        self.look_ahead()
        return interval

    def stop(self) -> None:
        """Give up the intervals not handed out yet."""
        self.dropped += sum(1 for _ in self.take_rest())

    def take_rest(self) -> Iterator[Interval]:
        """The intervals not handed out yet; none is handed out after them."""
        planned, self._next, self.exhausted, self.stopped = self._next, None, True, True
        return itertools.chain([planned] if planned is not None else [], self.due)

    @property
    def has_work(self) -> bool:
        return self._next is not None and not self.stopped

    @property
    def finished(self) -> bool:
        return not self.has_work and self.running == 0 and self.delivered == self.submitted


_AGAIN = object()  # _next_task(wait=False): the main thread must take its events first
_LEFT = object()  # on the queue: a worker has left


class Executor:
    """Runs intervals for the main thread; see the module docstring."""

    def __init__(self, pool: EnginePool, jobs: int,
                 execute: Callable[[Any, Interval, Slot | None], Any]):
        self.pool = pool
        self.jobs = max(1, jobs)
        self.execute = execute
        self._cv = threading.Condition()
        self._timelines: Iterator[Any] = iter(())
        self._more = True  # the iterator may have more timelines
        self._open: list[_Lane] = []  # opened and not closed yet
        self._lanes: dict[int, _Lane] = {}  # id(timeline) -> lane, while open
        self._busy: dict[Slot, int] = {}  # intervals running per slot
        self._stopping = False
        self._crash: BaseException | None = None
        # To the main thread: (lane, seq, result), (lane, -1, None) to look at a
        # lane that may be finished, and _LEFT from each worker that leaves.
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._check: list[_Lane] = []  # lanes the main thread stopped

    # -- the main thread's side ------------------------------------------------

    def run(self, timelines: Iterable[Any], wait: Callable[[], float]
            ) -> Iterator[Event | None]:
        """Execute every due interval of ``timelines``; the events, in order, and
        None whenever ``wait()`` seconds passed without one (a moment to checkpoint)."""
        self._timelines = iter(timelines)
        if self.jobs == 1:
            yield from self._run_inline()
        else:
            yield from self._run_threaded(wait)
        # Every worker has left, so every outcome is in.
        yield from self._checked()
        for lane in list(self._open):
            yield from self._close_if_finished(lane)

    def stop_timeline(self, timeline: Any) -> None:
        """Run nothing more of ``timeline`` (its file can't be written); its close
        event counts what was given up."""
        with self._cv:
            lane = self._lanes.get(id(timeline))
            if lane is None:
                return
            lane.stop()
        self._check.append(lane)

    def halt(self) -> None:
        """Run nothing more and stop the queries running (from any thread): each
        worker leaves once its interval has failed, and ``run`` ends."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self.pool.interrupt()

    def stop(self) -> list[Event]:
        """Interrupted: ``halt``; the intervals that finished meanwhile, and the
        timelines found unusable."""
        self.halt()
        events = []
        while True:
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return events
            if item is _LEFT:
                continue
            lane, seq, result = item
            if seq >= 0:
                events.append(Event(lane.timeline, seq, result))
            elif lane.error is not None:
                events.append(Event(lane.timeline, closed=True, error=lane.error,
                                    dropped=lane.dropped))

    def unfinished(self) -> Iterator[tuple[Any, Iterator[Interval]]]:
        """After a halted ``run``: each timeline left with work, and its intervals
        not run; first the open ones, then those never opened (whose ``error``
        may be set)."""
        for lane in list(self._open):
            if lane.has_work:
                self._open.remove(lane)
                lane.closed = True
                yield lane.timeline, lane.take_rest()
        for timeline in self._timelines:
            yield timeline, timeline.due

    # -- delivering events -------------------------------------------------------

    def _deliver(self, item: tuple[_Lane, int, Any]) -> Iterator[Event]:
        lane, seq, result = item
        if seq >= 0:
            yield Event(lane.timeline, seq, result)
            lane.delivered += 1  # the main thread has taken it
        yield from self._close_if_finished(lane)

    def _close_if_finished(self, lane: _Lane) -> Iterator[Event]:
        with self._cv:
            if lane.closed or not lane.finished:
                return
            lane.closed = True
            if lane in self._open:
                self._open.remove(lane)
                self._cv.notify_all()  # room to open another timeline
            self._lanes.pop(id(lane.timeline), None)
        yield Event(lane.timeline, closed=True, error=lane.error, dropped=lane.dropped)

    def _checked(self) -> Iterator[Event]:
        while self._check:
            yield from self._close_if_finished(self._check.pop(0))

    def _run_inline(self) -> Iterator[Event | None]:
        done = None
        while True:
            task = self._next_task(done, wait=False)
            done = None
            while True:
                try:
                    item = self._events.get_nowait()
                except queue.Empty:
                    break
                yield from self._deliver(item)
            yield from self._checked()
            yield None
            if task is None:
                return
            if task is not _AGAIN:
                done = self._execute(*task)

    def _run_threaded(self, wait: Callable[[], float]) -> Iterator[Event | None]:
        # Daemon threads: an interrupted run exits even if a query ignores the kill.
        workers = [threading.Thread(target=self._work, daemon=True,
                                    name=f"reportupdater-worker-{n}")
                   for n in range(self.jobs)]
        for worker in workers:
            worker.start()
        left = 0
        while left < len(workers):
            yield from self._checked()
            try:
                item = self._events.get(timeout=max(wait(), 0.0))
            except queue.Empty:
                yield None
                continue
            if item is _LEFT:
                left += 1
                if self._crash is not None:
                    raise RuntimeError("a worker thread failed") from self._crash
                continue
            yield from self._deliver(item)
        for worker in workers:
            worker.join()

    # -- the workers' side ---------------------------------------------------------

    def _work(self) -> None:
        done = None
        try:
            while (task := self._next_task(done)) is not None:
                done = self._execute(*task)
        except Exception as e:  # noqa: BLE001 - a bug in planning: the main thread raises it
            self._crash = e
        finally:
            self._events.put(_LEFT)

    def _execute(self, lane: _Lane, seq: int, interval: Interval) -> tuple[_Lane, int, Any]:
        return lane, seq, self.execute(lane.timeline, interval, lane.slot)

    def _next_task(self, done: tuple[_Lane, int, Any] | None, wait: bool = True
                   ) -> tuple[_Lane, int, Interval] | object | None:
        """The next interval to run, after handing ``done`` over; None when there
        is none left. Without ``wait``, ``_AGAIN`` instead of waiting."""
        with self._cv:
            if done is not None:
                lane = done[0]
                lane.running -= 1
                self._busy[lane.slot] -= 1
                self._events.put(done)
                self._cv.notify_all()  # its slot has room again
            while not self._stopping:
                can_open = self._more and len(self._open) < _MAX_OPEN_PER_JOB * self.jobs
                if can_open and sum(lane.has_work for lane in self._open) < self.jobs:
                    self._open_next()
                    continue
                lane = self._pick()
                if lane is not None and lane.slot is None:
                    self._find_slot(lane)
                    continue
                if lane is not None:
                    interval = lane.next_interval()
                    lane.submitted += 1
                    lane.running += 1
                    self._busy[lane.slot] = self._busy.get(lane.slot, 0) + 1
                    return lane, lane.submitted - 1, interval
                if can_open:  # every open timeline waits for its slot: look further
                    self._open_next()
                elif self._more or any(lane.has_work for lane in self._open):
                    if not wait:
                        return _AGAIN
                    self._cv.wait()  # for a slot, or for the main thread to take a result
                else:
                    return None
        return None

    def _open_next(self) -> None:
        """Open the next timeline (under the lock: planning reads its file's dates)."""
        timeline = next(self._timelines, None)
        if timeline is None:
            self._more = False
            return
        lane = _Lane(timeline)
        if lane.error is not None:  # can't be planned: report it, run nothing
            lane.stopped = lane.exhausted = True
            self._events.put((lane, -1, None))
            return
        lane.look_ahead()
        if lane.has_work:
            self._open.append(lane)
            self._lanes[id(timeline)] = lane
        # else: complete already, the usual hourly case; nothing to report

    def _pick(self) -> _Lane | None:
        """The open lane with work, below its slot's limit, with the fewest intervals
        running; one whose slot is not known yet counts as below its limit."""
        best = None
        for lane in self._open:
            if (not lane.has_work or lane.resolving
                    or (best is not None and lane.running >= best.running)):
                continue
            if lane.slot is not None and lane.slot.limit and \
                    self._busy.get(lane.slot, 0) >= lane.slot.limit:
                continue
            best = lane
        return best

    def _find_slot(self, lane: _Lane) -> None:
        """Look up ``lane``'s slot without holding the lock (a shard's DNS query)."""
        lane.resolving = True
        self._cv.release()
        try:
            slot = self.pool.slot(lane.timeline.report, lane.timeline.explode)
            error = None
        except ReportUpdaterError as e:  # e.g. its shard can't be found
            slot, error = None, str(e)
        finally:
            self._cv.acquire()
            lane.resolving = False
        if error is None:
            lane.slot = slot
        else:
            lane.error = error
            lane.stop()
            self._events.put((lane, -1, None))
        self._cv.notify_all()
