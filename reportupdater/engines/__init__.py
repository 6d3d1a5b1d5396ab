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
}


def engine_name(config: Config, report: ReportConfig) -> str:
    if report.type == "sql":
        return config.databases[report.db].engine
    return report.type


def engine_kind(name: str) -> EngineKind:
    module_name, class_name = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


class _Slot:
    def __init__(self, limit: int | None):
        self.semaphore = threading.BoundedSemaphore(limit) if limit else None
        self.idle: list[Engine] = []
        self.all: list[Engine] = []


class EnginePool:
    """Engines per pool key, reused across intervals, one thread at a time."""

    def __init__(self, config: Config):
        self.config = config
        self._slots: dict[Hashable, _Slot] = {}
        self._lock = threading.Lock()

    @contextmanager
    def acquire(self, report: ReportConfig, explode: Mapping[str, str]) -> Iterator[Engine]:
        name = engine_name(self.config, report)
        kind = engine_kind(name)
        key, limit = kind.pool_key(self.config, report, explode)
        with self._lock:
            slot = self._slots.setdefault((name, key), _Slot(limit))
        if slot.semaphore:
            slot.semaphore.acquire()
        try:
            with self._lock:
                engine = slot.idle.pop() if slot.idle else None
            if engine is None:
                engine = kind.open(self.config, report, explode)
                with self._lock:
                    slot.all.append(engine)
            healthy = True
            try:
                yield engine
            except BaseException:
                healthy = getattr(engine, "healthy", True)
                raise
            finally:
                with self._lock:
                    if healthy:
                        slot.idle.append(engine)
                    else:
                        slot.all.remove(engine)
                if not healthy:
                    engine.close()
        finally:
            if slot.semaphore:
                slot.semaphore.release()

    def close(self) -> None:
        with self._lock:
            engines = [e for slot in self._slots.values() for e in slot.all]
            self._slots.clear()
        for engine in engines:
            try:
                engine.close()
            except Exception:  # noqa: BLE001 - closing must not hide a run's outcome
                pass
