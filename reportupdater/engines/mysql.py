"""The ``mysql`` engine: ``type: sql`` reports on MariaDB/MySQL via pymysql.

One connection per database, or per shard for ``auto_find_db_shard``
databases (the wiki database is selected before each query), reused across
intervals. The header comes from the cursor description. A ``timeout`` kills
the running query from a second connection.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
from typing import Hashable, Mapping

import pymysql
import pymysql.constants.CLIENT

from ..config import Config, DatabaseConfig, ReportConfig
from ..errors import ExecutionError
from . import Query, Table

log = logging.getLogger(__name__)

# Databases the dblists don't name (as in the original reportupdater).
_SPECIAL_SHARDS = {"staging": "staging", "centralauth": "s7"}
_shard_maps: dict[tuple[str, bool], dict[str, str]] = {}
_shard_lock = threading.Lock()


def shard_of(database: DatabaseConfig, wiki_db: str) -> str:
    """The section (s1..s8, x1) holding ``wiki_db``, from mediawiki-config's dblists."""
    if wiki_db in _SPECIAL_SHARDS:
        return _SPECIAL_SHARDS[wiki_db]
    if database.use_x1:
        return "x1"
    key = (database.mw_config_path, database.use_x1)
    with _shard_lock:
        if key not in _shard_maps:
            mapping = {}
            pattern = os.path.join(database.mw_config_path, "dblists", "s[0-9]*.dblist")
            for path in sorted(glob.glob(pattern)):
                shard = os.path.basename(path)[: -len(".dblist")]
                with open(path, encoding="utf-8") as f:
                    for line in f:
                        name = line.strip()
                        if name and not name.startswith("#"):
                            mapping[name] = shard
            _shard_maps[key] = mapping
        mapping = _shard_maps[key]
    if not mapping:
        raise ExecutionError(f"no dblists found at {database.mw_config_path}/dblists/"
                             "s*.dblist; check mw_config_path")
    try:
        return mapping[wiki_db]
    except KeyError:
        raise ExecutionError(f"wiki database {wiki_db!r} is in none of the dblists under "
                             f"{database.mw_config_path}/dblists") from None


_srv_answers: dict[str, tuple[str, int]] = {}


def shard_address(database: DatabaseConfig, shard: str) -> tuple[str, int]:
    """A shard's host and port: the ``shards`` map, else the DNS SRV record.

    A record is looked up once per process: a run over hundreds of wikis asks
    for the same few shards again and again.
    """
    if shard in database.shards:
        return database.shards[shard]
    record = f"_{shard}-analytics._tcp.{database.domain}"
    with _shard_lock:
        known = _srv_answers.get(record)
    if known is not None:
        return known
    address = _lookup_srv(shard, record)
    with _shard_lock:
        _srv_answers[record] = address
    return address


def _lookup_srv(shard: str, record: str) -> tuple[str, int]:
    try:
        import dns.resolver
    except ImportError as e:
        raise ExecutionError(f"finding shard {shard!r} needs the DNS SRV record {record}, "
                             "but dnspython is not installed; install it or add a shards "
                             "map to the database entry") from e
    try:
        answer = dns.resolver.resolve(record, "SRV")[0]
    except Exception as e:  # noqa: BLE001 - dnspython raises many kinds
        raise ExecutionError(f"DNS SRV lookup of {record} failed: {e}") from e
    return str(answer.target).rstrip("."), int(answer.port)


def _target(config: Config, report: ReportConfig,
            explode: Mapping[str, str]) -> tuple[DatabaseConfig, str, int, str]:
    database = config.databases[report.db]
    name = _db_name(database, explode)
    if not database.auto_find_db_shard:
        return database, database.host, database.port, name
    host, port = shard_address(database, shard_of(database, name))
    return database, host, port, name


def _db_name(database: DatabaseConfig, explode: Mapping[str, str]) -> str | None:
    """The database to select: the wiki's (explode value) or the fixed one."""
    if database.auto_find_db_shard:
        return explode.get(database.wiki_db_placeholder or "", database.db)
    return database.db


class MysqlEngine:
    """One pymysql connection; used by one thread at a time."""

    def __init__(self, database: DatabaseConfig, host: str, port: int):
        self.database = database
        self.host, self.port = host, port
        self.healthy = True
        self.current_db: str | None = None
        self.running: int | None = None  # server thread id of the query running
        self.interrupted = False
        self.connection = self._connect()

    @staticmethod
    def pool_key(config: Config, report: ReportConfig,
                 explode: Mapping[str, str]) -> tuple[Hashable, int | None]:
        database, host, port, _ = _target(config, report, explode)
        return (database.key, host, port), database.max_connections

    @staticmethod
    def open(config: Config, report: ReportConfig, explode: Mapping[str, str]) -> "MysqlEngine":
        database, host, port, _ = _target(config, report, explode)
        return MysqlEngine(database, host, port)

    def _connect(self, db: str | None = None) -> pymysql.connections.Connection:
        options = dict(host=self.host, port=self.port, charset="utf8mb4", autocommit=True,
                       client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS,
                       connect_timeout=30)
        if self.database.creds_file:
            options["read_default_file"] = self.database.creds_file
        if db:
            options["database"] = db
        try:
            return pymysql.connect(**options)
        except pymysql.MySQLError as e:
            self.healthy = False
            raise ExecutionError(f"cannot connect to database {self.database.key!r} at "
                                 f"{self.host}:{self.port}: {e}") from e

    def run(self, query: Query) -> Table:
        db_name = _db_name(self.database, query.explode)
        timer = timed_out = None
        try:
            if db_name and db_name != self.current_db:
                self.connection.select_db(db_name)
                self.current_db = db_name
            self.running = self.connection.thread_id()
            if query.report.timeout:
                timed_out = threading.Event()
                timer = threading.Timer(query.report.timeout, self._time_out,
                                        (self.running, timed_out))
                timer.daemon = True
                timer.start()
            with self.connection.cursor() as cursor:
                cursor.execute(query.text)
                result = None
                while True:
                    if cursor.description is not None:
                        result = Table(header=[c[0] for c in cursor.description],
                                       rows=list(cursor.fetchall()))
                    if not cursor.nextset():
                        break
        except KeyboardInterrupt:
            # Interrupted in this thread, mid-protocol: the connection is unusable,
            # and the query would go on running on the server.
            self.healthy = False
            if self.running is not None:
                self._kill(self.running)
            raise
        except pymysql.MySQLError as e:
            if isinstance(e, pymysql.OperationalError) and e.args and e.args[0] in (
                    1317, 1927, 2013, 2006):
                self.healthy = False
            if timed_out is not None and timed_out.is_set():
                raise ExecutionError(f"query timed out after {query.report.timeout:g} s "
                                     "and was killed") from e
            if self.interrupted:
                raise ExecutionError("the run was interrupted; query killed") from e
            raise ExecutionError(f"query failed on database {db_name!r}: {e}") from e
        finally:
            self.running = None
            if timer is not None:
                timer.cancel()
        if result is None:
            raise ExecutionError("the query returned no result set (is it a SELECT?)")
        return result

    def _time_out(self, thread_id: int, timed_out: threading.Event) -> None:
        timed_out.set()  # before the kill, so the failing query sees why
        self._kill(thread_id)

    def interrupt(self) -> None:
        """Kill the running query, if any (from another thread: the run is stopping)."""
        self.interrupted = True
        thread_id = self.running
        if thread_id is not None:
            self._kill(thread_id)

    def _kill(self, thread_id: int) -> None:
        try:
            killer = self._connect()
            try:
                with killer.cursor() as cursor:
                    cursor.execute(f"KILL QUERY {int(thread_id)}")
            finally:
                killer.close()
        except Exception as e:  # noqa: BLE001 - the query's own error is what counts
            log.warning("could not kill timed-out query %s: %s", thread_id, e)

    def close(self) -> None:
        try:
            self.connection.close()
        except pymysql.MySQLError:
            pass

