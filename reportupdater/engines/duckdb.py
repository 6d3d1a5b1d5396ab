"""The ``duckdb`` engine: ``type: sql`` reports on an embedded DuckDB.

It needs no server, so the demo query folder runs anywhere. Relative file
paths in queries (``read_csv('data/...')``) resolve against the query folder,
which is how the demo reads its hive-partitioned event files.
"""

from __future__ import annotations

import threading
from typing import Hashable, Mapping

from ..config import Config, DatabaseConfig, ReportConfig
from ..errors import ExecutionError
from . import Query, Table


class DuckdbEngine:
    """One DuckDB connection; used by one thread at a time."""

    healthy = True

    def __init__(self, database: DatabaseConfig, query_folder: str):
        import duckdb

        self._duckdb = duckdb
        try:
            self.connection = duckdb.connect(database.path or ":memory:",
                                             read_only=bool(database.path))
            self.connection.execute("SET file_search_path = ?", [query_folder])
        except duckdb.Error as e:
            raise ExecutionError(f"cannot open DuckDB database {database.key!r} "
                                 f"({database.path or 'in memory'}): {e}") from e

    @staticmethod
    def pool_key(config: Config, report: ReportConfig,
                 explode: Mapping[str, str]) -> tuple[Hashable, int | None]:
        database = config.databases[report.db]
        return database.key, database.max_connections

    @staticmethod
    def open(config: Config, report: ReportConfig, explode: Mapping[str, str]) -> "DuckdbEngine":
        return DuckdbEngine(config.databases[report.db], str(config.query_folder.resolve()))

    def run(self, query: Query) -> Table:
        timer = None
        if query.report.timeout:
            timer = threading.Timer(query.report.timeout, self.connection.interrupt)
            timer.daemon = True
            timer.start()
        try:
            cursor = self.connection.execute(query.text)
            if cursor.description is None:
                raise ExecutionError("the query returned no result set (is it a SELECT?)")
            return Table(header=[c[0] for c in cursor.description], rows=cursor.fetchall())
        except self._duckdb.Error as e:
            if timer is not None and timer.finished.is_set():
                raise ExecutionError(f"query timed out after {query.report.timeout:g} s "
                                     "and was interrupted") from e
            raise ExecutionError(f"query failed: {e}") from e
        finally:
            if timer is not None:
                timer.cancel()

    def interrupt(self) -> None:
        """Stop the running query, if any (from another thread: the run is stopping)."""
        self.connection.interrupt()

    def close(self) -> None:
        self.connection.close()
