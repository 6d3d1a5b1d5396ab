"""Local engines: run a report on fixtures instead of its cluster.

``LocalEngine`` runs ``sql`` and ``hive`` reports on an in-memory DuckDB:
the rendered query is transpiled (``transpile``), the tables it reads are
loaded from the fixture folder (``fixtures``), and the result's values are
made the types the real engine returns, so the TSV is the one a run on the
cluster would write. ``LocalScriptEngine`` runs a script report as a run
does, with the fixture folder in ``REPORTUPDATER_FIXTURES``. Both implement
the engines' ``run(query) -> Table`` protocol.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..config import Config, ReportConfig
from ..engines import Query, Table
from ..errors import FixtureError, LocalRunError
from .fixtures import find_fixture, load_table
from .transpile import MACROS, Statement, transpile

log = logging.getLogger(__name__)

FIXTURES_VARIABLE = "REPORTUPDATER_FIXTURES"


def dialect_of(config: Config, report: ReportConfig) -> str:
    """The dialect a report's query is written in: ``dialect:``, else its engine's."""
    if report.dialect:
        return report.dialect
    if report.type == "hive":
        return "hive"
    engine = config.databases[report.db].engine if report.db in config.databases else "mysql"
    return "duckdb" if engine == "duckdb" else "mysql"


def current_database(config: Config, report: ReportConfig,
                     explode: Mapping[str, str]) -> str | None:
    """The database unqualified table names resolve in first, as on the real engine."""
    if report.type == "hive":
        settings = report.hive_settings
        return (settings.database if settings and settings.database else "default")
    database = config.databases.get(report.db) if report.db else None
    if database is None:
        return None
    if database.auto_find_db_shard:
        return explode.get(database.wiki_db_placeholder or "", database.db)
    return database.db


def engine_value(value: Any, dialect: str) -> Any:
    """A DuckDB value as the real engine's driver returns it."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if dialect == "mysql" and isinstance(value, bool):
        return int(value)  # MariaDB has no BOOLEAN: TRUE is 1
    if dialect in ("hive", "spark") and isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return value


class LocalEngine:
    """One in-memory DuckDB over a fixture folder; used by one thread at a time."""

    healthy = True

    def __init__(self, config: Config, fixtures: Path):
        import duckdb

        self._duckdb = duckdb
        self.config = config
        self.fixtures = fixtures
        self.connection = duckdb.connect(":memory:")
        self.connection.execute("SET TimeZone = 'UTC'")
        self.connection.execute("SET file_search_path = ?",
                                [str(config.query_folder.resolve())])
        for macro in MACROS:
            self.connection.execute(macro)
        self._loaded: dict[tuple[str, str], Path] = {}

    def run(self, query: Query) -> Table:
        dialect = dialect_of(self.config, query.report)
        database = current_database(self.config, query.report, query.explode)
        try:
            statements = transpile(query.text, dialect, database)
        except LocalRunError as e:
            raise LocalRunError(_describe(str(e), query.text, dialect, None)) from e
        transpiled = ";\n".join(s.sql for s in statements)
        result = None
        for statement in statements:
            try:
                self._load(statement, dialect)
            except FixtureError as e:
                raise FixtureError(_describe(str(e), query.text, dialect, transpiled)) from e
            try:
                cursor = self.connection.execute(statement.sql)
            except self._duckdb.Error as e:
                raise LocalRunError(_describe(f"DuckDB: {e}", query.text, dialect,
                                              transpiled)) from e
            if cursor.description is not None:
                result = Table(header=[c[0] for c in cursor.description],
                               rows=[tuple(engine_value(v, dialect) for v in row)
                                     for row in cursor.fetchall()])
        if result is None:
            raise LocalRunError(_describe("the query returned no result set (is it a "
                                          "SELECT?)", query.text, dialect, transpiled))
        return result

    def _load(self, statement: Statement, dialect: str) -> None:
        for ref in statement.tables:
            path = find_fixture(self.fixtures, ref, statement.database)
            schema = ref.schema.lower() if ref.schema else "main"
            key = (schema, ref.name.lower())
            if self._loaded.get(key) != path:
                load_table(self.connection, schema, ref.name.lower(), path, dialect)
                self._loaded[key] = path

    def close(self) -> None:
        self.connection.close()


def _describe(message: str, rendered: str, dialect: str, transpiled: str | None) -> str:
    text = f"{message}\n--- rendered query ({dialect}) ---\n{rendered.strip()}"
    if transpiled is not None:
        text += f"\n--- transpiled query (duckdb) ---\n{transpiled.strip()}"
    return text


class LocalScriptEngine:
    """Runs a script report as a run does, telling it where the fixtures are."""

    healthy = True

    def __init__(self, fixtures: Path | None):
        self.fixtures = fixtures

    def run(self, query: Query) -> Table:
        from ..engines.script import parse_tsv, run_process

        what = f"script {query.report.template.path.name}"
        env = dict(os.environ)
        if self.fixtures is not None:
            env[FIXTURES_VARIABLE] = str(self.fixtures.resolve())
        stdout, stderr = run_process(list(query.argv), query.report.timeout, what, env=env)
        for line in stderr.splitlines():
            if line.strip():
                log.info("%s (%s) stderr: %s", query.report.key, query.interval, line)
        return parse_tsv(stdout, what)

    def close(self) -> None:
        pass


class FixturePool:
    """Hands out local engines in place of an ``EnginePool`` (same ``acquire``)."""

    def __init__(self, config: Config, fixtures: Path):
        self.config = config
        self.fixtures = fixtures
        self._engine: LocalEngine | None = None
        self._script = LocalScriptEngine(fixtures)

    @contextmanager
    def acquire(self, report: ReportConfig, explode: Mapping[str, str],
                slot: object = None) -> Iterator[LocalEngine | LocalScriptEngine]:
        if report.type == "script":
            yield self._script
            return
        if report.type == "cohort":
            raise LocalRunError(f"report {report.key!r} is a cohort report: it runs on "
                                 "MariaDB only, not on fixtures")
        if self._engine is None:
            self._engine = LocalEngine(self.config, self.fixtures)
        yield self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
