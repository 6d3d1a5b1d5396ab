"""Engines: run one rendered query and return a table.

Every engine implements the small ``Engine`` protocol (``run(query) ->
Table`` and ``close()``), and is found in ``REGISTRY`` by name. ``EnginePool``
hands engines out to worker threads: one engine is used by one thread at a
time, engines are reused across intervals, and each pool key (a database, a
shard, a Hive backend) has its own concurrency limit.
"""

from __future__ import annotations

import importlib
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterator, Mapping, Protocol

from ..config import Config, ReportConfig
from ..intervals import Interval


@dataclass(frozen=True)
class Query:
    """What to execute for one report, interval and explode combination."""

    report: ReportConfig
    interval: Interval
    explode: Mapping[str, str]
    text: str = ""  # rendered SQL or HiveQL
    argv: tuple[str, ...] = ()  # for scripts


@dataclass
class Table:
    """An execution's result: a header and rows of Python values."""

    header: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


class Engine(Protocol):
    def run(self, query: Query) -> Table:
        """Execute ``query``; raise ExecutionError on any failure."""

    def close(self) -> None:
        """Release connections; the engine is not used afterwards."""


class EngineKind(Protocol):
    """A registered engine class: how to key, limit and open its engines."""

    @staticmethod
    def pool_key(config: Config, report: ReportConfig,
                 explode: Mapping[str, str]) -> tuple[Hashable, int | None]:
        """The key engines are shared under, and its concurrency limit."""

    @staticmethod
    def open(config: Config, report: ReportConfig, explode: Mapping[str, str]) -> Engine:
        """A new engine for this key."""


# Engine name -> "module:Class", imported on first use so that a run that
# executes nothing never imports a database driver.
REGISTRY: dict[str, str] = {
    "mysql": "reportupdater.engines.mysql:MysqlEngine",
    "duckdb": "reportupdater.engines.duckdb:DuckdbEngine",
    "script": "reportupdater.engines.script:ScriptEngine",
    "hive": "reportupdater.engines.hive:HiveEngine",
    "cohort": "reportupdater.engines.cohort:CohortEngine",
}


def engine_name(config: Config, report: ReportConfig) -> str:
    if report.type == "sql":
        return config.databases[report.db].engine
    return report.type


def engine_kind(name: str) -> EngineKind:
    module_name, class_name = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


class Slot:
    """The engines of one pool key and their concurrency limit (None: unlimited)."""

    def __init__(self, name: str, key: Hashable, limit: int | None):
        self.name = name
        self.key = key
        self.limit = limit
        self.semaphore = threading.BoundedSemaphore(limit) if limit else None
        self.idle: list[Engine] = []
        self.busy: list[Engine] = []


class EnginePool:
    """Engines per pool key, reused across intervals, one thread at a time.

    An engine is handed to one thread, which gives it back when its query is
    done; a thread never sees an engine another thread holds. At most
    ``limit`` engines of a key exist (the semaphore), so a database never
    gets more connections from a run than its ``max_connections``.
    """

    def __init__(self, config: Config):
        self.config = config
        self._slots: dict[Hashable, Slot] = {}
        self._lock = threading.Lock()
        self._closed = False

    def slot(self, report: ReportConfig, explode: Mapping[str, str]) -> Slot:
        """The slot engines for this report and explode values come from.

        Raises ExecutionError when the key can't be worked out (a shard lookup).
        """
        name = engine_name(self.config, report)
        key, limit = engine_kind(name).pool_key(self.config, report, explode)
        with self._lock:
            slot = self._slots.get((name, key))
            if slot is None:
                slot = self._slots[(name, key)] = Slot(name, key, limit)
        return slot

    @contextmanager
    def acquire(self, report: ReportConfig, explode: Mapping[str, str],
                slot: Slot | None = None) -> Iterator[Engine]:
        slot = slot or self.slot(report, explode)
        if slot.semaphore:
            slot.semaphore.acquire()
        try:
            with self._lock:
                engine = slot.idle.pop() if slot.idle else None
                if engine is not None:
                    slot.busy.append(engine)
            if engine is None:
                engine = engine_kind(slot.name).open(self.config, report, explode)
                with self._lock:
                    slot.busy.append(engine)
            healthy = True
            try:
                yield engine
            except BaseException:
                healthy = getattr(engine, "healthy", True)
                raise
            finally:
                with self._lock:
                    slot.busy.remove(engine)
                    keep = healthy and not self._closed
                    if keep:
                        slot.idle.append(engine)
                if not keep:
                    _close(engine)
        finally:
            if slot.semaphore:
                slot.semaphore.release()

    def interrupt(self) -> None:
        """Ask every engine in use to stop its query (for a run being interrupted)."""
        with self._lock:
            busy = [e for slot in self._slots.values() for e in slot.busy]
        for engine in busy:
            stop = getattr(engine, "interrupt", None)
            if stop is not None:
                try:
                    stop()
                except Exception:  # noqa: BLE001 - best effort while stopping
                    pass

    def close(self) -> None:
        """Close idle engines now, and engines in use when their thread gives them back."""
        with self._lock:
            self._closed = True
            engines = [e for slot in self._slots.values() for e in slot.idle]
            for slot in self._slots.values():
                slot.idle.clear()
        for engine in engines:
            _close(engine)


def _close(engine: Engine) -> None:
    try:
        engine.close()
    except Exception:  # noqa: BLE001 - closing must not hide a run's outcome
        pass
