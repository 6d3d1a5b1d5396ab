"""The ``mysql`` engine: ``type: sql`` reports on MariaDB/MySQL via pymysql.

One connection per database, or per shard for ``auto_find_db_shard``
databases (the wiki database is selected before each query), reused across
intervals. The header comes from the cursor description. A ``timeout`` stops
the query on the server (``max_statement_time``, and ``KILL QUERY`` from a
second connection); socket deadlines make sure a server that stops answering
fails the query instead of hanging the run. A shard's server comes from the
``shards`` map or a DNS SRV record (see ``shard_address``).
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Hashable, Mapping

import pymysql

from ..config import Config, DatabaseConfig, ReportConfig
from ..errors import ExecutionError
from . import Query, Table
from .hive import split_statements

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 30.0  # seconds to connect and log in
KILL_TIMEOUT = 10.0  # seconds the connection sending KILL QUERY may take
NO_TIMEOUT_DEADLINE = 6 * 3600.0  # seconds a query of a report without timeout may take
DEADLINE_GRACE = 5.0  # seconds past a query's deadline before the socket gives up
_STATEMENT_TIMEOUT = 1969  # ER_STATEMENT_TIMEOUT: max_statement_time exceeded

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


# Where SRV records are looked up: the system resolver, unless this names
# servers ("host[:port]" separated by commas, e.g. "127.0.0.1:5353").
DNS_SERVERS_VARIABLE = "REPORTUPDATER_DNS_SERVERS"
DNS_TIMEOUT = 5.0  # seconds a lookup may take, retries included
DNS_FAILURE_TTL = 60.0  # seconds a failed lookup is remembered (not asked per wiki)



@dataclass(frozen=True)
class _Failure:
    at: float  # time.monotonic() of the lookup
    reason: str


_srv_answers: dict[tuple[str, str], tuple[str, int] | _Failure] = {}


def shard_address(database: DatabaseConfig, shard: str, wiki_db: str) -> tuple[str, int]:
    """A shard's host and port: the ``shards`` map, else the DNS SRV record.

    A record is looked up once per process: a run over hundreds of wikis asks
    for the same few shards again and again. A failure is remembered for
    ``DNS_FAILURE_TTL`` seconds, so an unreachable DNS server costs one
    timeout, not one per wiki.
    """
    if shard in database.shards:
        return database.shards[shard]
    record = f"_{shard}-analytics._tcp.{database.domain}"
    servers = os.environ.get(DNS_SERVERS_VARIABLE, "").strip()
    key = (servers, record)
    with _shard_lock:
        known = _srv_answers.get(key)
    if isinstance(known, _Failure):
        if time.monotonic() - known.at < DNS_FAILURE_TTL:
            raise ExecutionError(_shard_problem(wiki_db, shard, record, known.reason))
    elif known is not None:
        return known
    try:
        address = _lookup_srv(record, servers)
    except _LookupFailed as e:
        with _shard_lock:
            _srv_answers[key] = _Failure(time.monotonic(), str(e))
        raise ExecutionError(_shard_problem(wiki_db, shard, record, str(e))) from e.__cause__
    with _shard_lock:
        _srv_answers[key] = address
    return address


def _shard_problem(wiki_db: str, shard: str, record: str, reason: str) -> str:
    return (f"cannot find the server of wiki {wiki_db!r} (shard {shard}): the DNS SRV lookup "
            f"of {record} failed: {reason}; fix DNS, or add {shard} to the database's "
            "shards map")


class _LookupFailed(Exception):
    """A DNS SRV lookup gave no usable answer (the message says why)."""


def _lookup_srv(record: str, servers: str) -> tuple[str, int]:
    try:
        import dns.exception
        import dns.resolver
    except ImportError as e:
        raise _LookupFailed("dnspython is not installed") from e
    resolver = _resolver(servers)
    asked = f"DNS server(s) {servers}" if servers else "the system's DNS servers"
    try:
        answers = resolver.resolve(record, "SRV")
    except dns.resolver.NXDOMAIN as e:
        raise _LookupFailed(f"the record does not exist (NXDOMAIN from {asked})") from e
    except dns.resolver.NoAnswer as e:
        raise _LookupFailed(f"the name has no SRV record ({asked})") from e
    except dns.exception.Timeout as e:
        raise _LookupFailed(f"no answer from {asked} within {DNS_TIMEOUT:g} s") from e
    except dns.resolver.NoNameservers as e:
        raise _LookupFailed(f"every one of {asked} refused or failed: {e}") from e
    except dns.exception.DNSException as e:
        raise _LookupFailed(f"{type(e).__name__}: {e}") from e
    # The lowest priority wins; among equals, the heaviest (no random pick:
    # every run of a day must reach the same server).
    best = min(answers, key=lambda a: (a.priority, -a.weight, str(a.target), a.port))
    return str(best.target).rstrip("."), int(best.port)


def _resolver(servers: str):
    import dns.nameserver
    import dns.resolver

    if not servers:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        nameservers = []
        for entry in servers.split(","):
            host, port = _host_port(entry.strip())
            nameservers.append(dns.nameserver.Do53Nameserver(host, port))
        resolver.nameservers = nameservers
    resolver.lifetime = DNS_TIMEOUT
    return resolver


def _host_port(entry: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6 address]:port``."""
    host, port = entry, "53"
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "53"
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _LookupFailed(f"{DNS_SERVERS_VARIABLE} holds {entry!r}, which is not "
                            "host[:port]")
    return host, int(port)


def _target(config: Config, report: ReportConfig,
            explode: Mapping[str, str]) -> tuple[DatabaseConfig, str, int, str]:
    database = config.databases[report.db]
    name = _db_name(database, explode)
    if not database.auto_find_db_shard:
        return database, database.host, database.port, name
    host, port = shard_address(database, shard_of(database, name), name)
    return database, host, port, name


def _db_name(database: DatabaseConfig, explode: Mapping[str, str]) -> str | None:
    """The database to select: the wiki's (explode value) or the fixed one."""
    if database.auto_find_db_shard:
        return explode.get(database.wiki_db_placeholder or "", database.db)
    return database.db


class MysqlEngine:
    """One pymysql connection; used by one thread at a time.

    Every wait on the server has a deadline. A query gets ``timeout`` seconds
    (``NO_TIMEOUT_DEADLINE`` without one): MariaDB stops it by itself then
    (``max_statement_time``), a second connection sends ``KILL QUERY`` in
    case, and the socket gives up ``DEADLINE_GRACE`` seconds later if the
    server does not answer at all (frozen, or cut off). A connection that
    gave up is dropped, so the next query reconnects. The connection never
    allows several statements in one query.
    """

    def __init__(self, database: DatabaseConfig, host: str, port: int):
        self.database = database
        self.host, self.port = host, port
        self.healthy = True
        self.current_db: str | None = None
        self.running: int | None = None  # server thread id of the query running
        self.interrupted = False
        self.connection = self._connect()
        self.statement_limit = 0.0  # max_statement_time set on the session
        self.server_limits = "mariadb" in self.connection.get_server_info().lower()

    @staticmethod
    def pool_key(config: Config, report: ReportConfig,
                 explode: Mapping[str, str]) -> tuple[Hashable, int | None]:
        database, host, port, _ = _target(config, report, explode)
        return (database.key, host, port), database.max_connections

    @staticmethod
    def open(config: Config, report: ReportConfig, explode: Mapping[str, str]) -> "MysqlEngine":
        database, host, port, _ = _target(config, report, explode)
        return MysqlEngine(database, host, port)

    def _connect(self, timeout: float = CONNECT_TIMEOUT) -> pymysql.connections.Connection:
        # No CLIENT.MULTI_STATEMENTS: "...; DROP TABLE x" in a query is a syntax
        # error, not a second statement. The read timeout bounds the handshake.
        options = dict(host=self.host, port=self.port, charset="utf8mb4", autocommit=True,
                       connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout)
        if self.database.creds_file:
            options["read_default_file"] = self.database.creds_file
        try:
            return pymysql.connect(**options)
        except pymysql.MySQLError as e:
            self.healthy = False
            raise ExecutionError(f"cannot connect to database {self.database.key!r} at "
                                 f"{self.host}:{self.port}: {e}") from e

    def _set_deadline(self, seconds: float) -> None:
        # pymysql reads these before every packet; it has no public setter.
        self.connection._read_timeout = seconds
        self.connection._write_timeout = seconds

    def _limit_statements(self, timeout: float | None) -> None:
        """Have MariaDB stop a statement after ``timeout`` s by itself (0: never)."""
        limit = float(timeout or 0)
        if not self.server_limits or limit == self.statement_limit:
            return
        with self.connection.cursor() as cursor:
            cursor.execute("SET SESSION max_statement_time = %s", (limit,))
        self.statement_limit = limit

    def run(self, query: Query) -> Table:
        db_name = _db_name(self.database, query.explode)
        timeout = query.report.timeout
        deadline = (timeout or NO_TIMEOUT_DEADLINE) + DEADLINE_GRACE
        timer = timed_out = None
        started = time.monotonic()
        try:
            self._set_deadline(deadline)
            if db_name and db_name != self.current_db:
                self.connection.select_db(db_name)
                self.current_db = db_name
            self._limit_statements(timeout)
            self.running = self.connection.thread_id()
            if timeout:
                timed_out = threading.Event()
                timer = threading.Timer(timeout, self._time_out, (self.running, timed_out))
                timer.daemon = True
                timer.start()
            started = time.monotonic()
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
            code = e.args[0] if e.args else None
            if isinstance(e, pymysql.OperationalError) and code in (1317, 1927, 2013, 2006):
                self.healthy = False
            if code == 2013 and time.monotonic() - started >= deadline - 0.5:
                raise ExecutionError(
                    f"database {self.database.key!r} at {self.host}:{self.port} did not "
                    f"answer within {deadline:g} s; the connection is dropped and the next "
                    "query reconnects") from e
            if code == _STATEMENT_TIMEOUT or (timed_out is not None and timed_out.is_set()):
                raise ExecutionError(f"query timed out after {timeout:g} s "
                                     "and was killed") from e
            if self.interrupted:
                raise ExecutionError("the run was interrupted; query killed") from e
            hint = ""
            if code == 1064 and len(split_statements(query.text)) > 1:
                hint = " (a query must be a single statement)"
            raise ExecutionError(f"query failed on database {db_name!r}: {e}{hint}") from e
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
            killer = self._connect(KILL_TIMEOUT)
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
