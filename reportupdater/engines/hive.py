"""The ``hive`` engine: ``type: hive`` reports on HiveServer2 or a Hive client command.

Input: a rendered HiveQL ``Query`` and the report's ``HiveSettings``. Output: a
``Table``. Two backends:

* ``hiveserver2`` talks to HiveServer2 (or Spark's Thrift server) through
  pyhive, on one connection per backend reused across intervals. Statements
  run asynchronously and are polled, so a ``timeout`` cancels the query from
  the same thread (a Thrift client must not be shared between threads).
* ``cli`` runs a client command (``hive -e``, ``beeline ... -e``) and reads its
  stdout as TSV, first line the header, tolerating Hadoop log lines (see
  ``parse_cli_output``), under the same rules as a script's output (see
  ``output``). A timeout kills everything the client started.

pyhive is imported only when a hiveserver2 engine opens, so runs without Hive
reports never load it.
"""

from __future__ import annotations

import getpass
import logging
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Hashable, Iterator, Mapping, Sequence

from ..config import Config, HiveSettings, ReportConfig
from ..errors import ExecutionError
from . import Query, Table
from .output import check_header, decode, shown, split_lines
from .process import spawn

log = logging.getLogger(__name__)

# Lines Hadoop, Hive, Parquet and the JVM write to stdout or stderr besides
# the result. parse_cli_output says when such a line is dropped.
NOISE = re.compile("|".join((
    r"parquet\.hadoop",  # what the original's query folders grepped out
    r"^SLF4J: ",
    r"^log4j:",
    r"^(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|SEVERE)[: ]",
    # log4j: "24/02/27 04:32:01 WARN ..." or "2024-02-27T04:32:01,123  INFO [main] ..."
    r"^\d{2,4}[-/]\d{2}[-/]\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)? +(?:\[[^\]]*\] +)?"
    r"(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\b",
    # java.util.logging: "Feb 27, 2024 4:32:01 AM org.apache..."
    r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M ",
)))
_STACK_FRAME = re.compile(r"^\s+at \S|^\s*\.\.\. \d+ more")
_ERROR_LINE = re.compile(r"^(?:Error|FAILED|Exception in thread)\b")
_QUALIFIED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.(.+)$")

MAX_MESSAGE = 500  # characters of a server or client error kept in a failure
CONNECT_TIMEOUT = 30.0  # seconds to open the socket and the session
RPC_TIMEOUT = 300.0  # seconds any one Thrift call may take; queries themselves are polled


def is_noise(line: str) -> bool:
    """Whether ``line`` looks like a Hadoop/JVM log line rather than a result."""
    return NOISE.search(line) is not None


def split_statements(hql: str) -> list[str]:
    """The statements of ``hql``, without ``--`` comments and ``;`` separators.

    Quotes ('...', "..." with backslash escapes, `...`) are respected, so a
    ``;`` or ``--`` inside a string or a quoted name is kept.
    """
    statements: list[str] = []
    current: list[str] = []
    quote = None
    i, n = 0, len(hql)
    while i < n:
        char = hql[i]
        if quote:
            current.append(char)
            if char == "\\" and quote != "`" and i + 1 < n:
                current.append(hql[i + 1])
                i += 2
                continue
            if char == quote:
                quote = None
        elif char in "'\"`":
            quote = char
            current.append(char)
        elif hql.startswith("--", i):
            end = hql.find("\n", i)
            i = n if end == -1 else end  # keep the newline: it separates tokens
            continue
        elif char == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def clean_header(names: Sequence[str]) -> list[str]:
    """Column names without the ``table.`` prefix Hive adds, unless that makes two equal."""
    stripped = [m.group(1) if (m := _QUALIFIED.match(name)) else name for name in names]
    return [short if stripped.count(short) == 1 else name
            for name, short in zip(names, stripped)]


def _short(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else "(no message)"
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE] + "..."


class HiveEngine:
    """The registry entry: picks the backend and keys the pool on its settings."""

    @staticmethod
    def pool_key(config: Config, report: ReportConfig,
                 explode: Mapping[str, str]) -> tuple[Hashable, int | None]:
        key = report.hive_settings.backend_key
        # Reports sharing a backend share one limit: the lowest any of them sets.
        limit = min(r.hive_settings.max_concurrency for r in config.reports
                    if r.hive_settings is not None and r.hive_settings.backend_key == key)
        return key, limit

    @staticmethod
    def open(config: Config, report: ReportConfig, explode: Mapping[str, str]):
        settings = report.hive_settings
        if settings.backend == "hiveserver2":
            return HiveServer2Backend(settings)
        return HiveCliBackend(settings)


class HiveServer2Backend:
    """One pyhive connection; used by one thread at a time."""

    def __init__(self, settings: HiveSettings):
        self.settings = settings
        self.healthy = True
        self.where = f"HiveServer2 at {settings.host}:{settings.port}"
        self.connection = self._connect()

    def _connect(self) -> Any:
        try:
            from pyhive import hive

            transport = self._transport()
        except ImportError as e:
            raise ExecutionError(f"hive backend hiveserver2 needs pyhive, thrift and "
                                 f"thrift_sasl ({e}): pip install 'reportupdater[hive]'") from e
        quiet = logging.getLogger("pyhive")
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.WARNING)  # it logs every statement at INFO
        s = self.settings
        try:
            connection = hive.connect(thrift_transport=transport, username=s.username,
                                      database=s.database,
                                      configuration=dict(s.configuration))
            self._socket.setTimeout(RPC_TIMEOUT * 1000)
            return connection
        except Exception as e:  # noqa: BLE001 - thrift, sasl and socket errors alike
            raise ExecutionError(f"cannot connect to {self.where} (auth {s.auth}, database "
                                 f"{s.database!r}): {type(e).__name__}: {_short(str(e))}"
                                 ) from e

    def _transport(self) -> Any:
        """pyhive's own transport, plus socket timeouts so no call hangs forever."""
        from pyhive.hive import get_installed_sasl
        from thrift.transport import TSocket, TTransport

        s = self.settings
        socket = self._socket = TSocket.TSocket(s.host, s.port)
        socket.setTimeout(CONNECT_TIMEOUT * 1000)
        if s.auth == "NOSASL":
            return TTransport.TBufferedTransport(socket)
        import thrift_sasl

        if s.auth == "KERBEROS":
            mechanism, options = "GSSAPI", {"service": s.kerberos_service_name}
        else:  # NONE and LDAP speak PLAIN; NONE ignores the password but needs one
            password = self._password() if s.auth == "LDAP" else "x"
            mechanism = "PLAIN"
            options = {"username": s.username or getpass.getuser(), "password": password}
        return thrift_sasl.TSaslClientTransport(
            lambda: get_installed_sasl(host=s.host, sasl_auth=mechanism, **options),
            mechanism, socket)

    def _password(self) -> str:
        path = self.settings.password_file
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as e:
            raise ExecutionError(f"cannot read the hive password_file {str(path)!r}: "
                                 f"{e.strerror or e}") from e

    def run(self, query: Query) -> Table:
        from pyhive import exc

        statements = split_statements(query.text)
        if not statements:
            raise ExecutionError(f"the query {query.report.template.path.name} is empty")
        timeout = query.report.timeout
        deadline = time.monotonic() + timeout if timeout else None
        cursor = None
        try:
            cursor = self.connection.cursor()
            for statement in statements:  # the last one's result is the report's
                self._execute(cursor, statement, deadline, timeout)
            if cursor.description is None:
                raise ExecutionError("the query's last statement returned no result set "
                                     "(is it a SELECT?)")
            header = clean_header([column[0] for column in cursor.description])
            rows = self._fetch(cursor, deadline, timeout)
        except ExecutionError:
            raise
        except exc.Error as e:
            message = _server_message(e)
            if "SessionHandle" in message or "OperationHandle" in message:
                self.healthy = False  # the server forgot our session: reconnect
            raise ExecutionError(f"query failed on {self.where}: {_short(message)}") from e
        except Exception as e:  # noqa: BLE001 - a transport error: the connection is gone
            self.healthy = False
            raise ExecutionError(f"lost the connection to {self.where}: "
                                 f"{type(e).__name__}: {_short(str(e))}") from e
        finally:
            if cursor is not None:
                self._close_cursor(cursor)
        return Table(header=header, rows=rows)

    def _execute(self, cursor: Any, statement: str, deadline: float | None,
                 timeout: float | None) -> None:
        from TCLIService.ttypes import TOperationState as State

        log.debug("%s: %s", self.where, statement)
        cursor.execute(statement, async_=True)
        delay = 0.02
        while True:
            status = cursor.poll(get_progress_update=False)
            state = status.operationState
            if state == State.FINISHED_STATE:
                return
            if state not in (State.INITIALIZED_STATE, State.PENDING_STATE,
                             State.RUNNING_STATE):
                name = State._VALUES_TO_NAMES.get(state, str(state))
                detail = status.errorMessage or f"the query ended in {name}"
                raise ExecutionError(f"query failed on {self.where}: {_short(detail)}")
            self._check_deadline(cursor, deadline, timeout)
            left = deadline - time.monotonic() if deadline else delay
            time.sleep(max(0.0, min(delay, left)))
            delay = min(delay * 1.5, 1.0)

    def _fetch(self, cursor: Any, deadline: float | None,
               timeout: float | None) -> list[tuple]:
        rows: list[tuple] = []
        while True:
            batch = cursor.fetchmany(1000)
            if not batch:
                return rows
            rows.extend(tuple(row) for row in batch)
            self._check_deadline(cursor, deadline, timeout)

    def _check_deadline(self, cursor: Any, deadline: float | None,
                        timeout: float | None) -> None:
        if deadline is None or time.monotonic() < deadline:
            return
        try:
            cursor.cancel()
        except Exception as e:  # noqa: BLE001 - can't cancel: don't reuse the session
            self.healthy = False
            log.warning("could not cancel a timed-out query on %s: %s", self.where, e)
        raise ExecutionError(f"query timed out after {timeout:g} s and was cancelled on "
                             f"{self.where}")

    def _close_cursor(self, cursor: Any) -> None:
        try:
            cursor.close()
        except Exception as e:  # noqa: BLE001 - the query's outcome is what counts
            self.healthy = False
            log.debug("closing a cursor on %s failed: %s", self.where, e)

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:  # noqa: BLE001 - the server may be gone already
            pass


def _server_message(error: Exception) -> str:
    """The server's message in a pyhive error (it wraps the whole Thrift response)."""
    response = error.args[0] if error.args else None
    status = getattr(response, "status", None)
    return getattr(status, "errorMessage", None) or str(error)


class HiveCliBackend:
    """Runs the configured client command once per query; nothing to keep open."""

    healthy = True

    def __init__(self, settings: HiveSettings):
        self.settings = settings

    def run(self, query: Query) -> Table:
        statements = split_statements(query.text)
        if not statements:
            raise ExecutionError(f"the query {query.report.template.path.name} is empty")
        # Comments are gone (beeline -e drops everything after one); ending on ";"
        # keeps beeline from printing its prompt before the header.
        text = ";\n".join(statements) + ";"
        timeout = query.report.timeout
        with _command(self.settings.command, text) as argv:
            what = f"hive command {Path(argv[0]).name!r}"
            code, stdout, stderr = spawn(argv, timeout, what,
                                         hint=" (set hive.command to a working Hive client)")
        for line in stderr.splitlines():
            if line.strip() and not is_noise(line) and not _STACK_FRAME.search(line):
                log.info("%s (%s) stderr: %s", query.report.key, query.interval, line)
        if code != 0:
            reason = (f"was killed by signal {-code}" if code < 0
                      else f"exited with status {code}")
            raise ExecutionError(f"{what} {reason}: {_error_line(stderr)}")
        return parse_cli_output(stdout, what)

    def close(self) -> None:
        pass


@contextmanager
def _command(command: Sequence[str], text: str) -> Iterator[list[str]]:
    """The argv with ``{query}`` or ``{query_file}`` (a temporary file) filled in."""
    if not any("{query_file}" in arg for arg in command):
        yield [arg.replace("{query}", text) for arg in command]
        return
    with tempfile.NamedTemporaryFile("w", suffix=".hql", encoding="utf-8",
                                     prefix="reportupdater-") as file:
        file.write(text + "\n")
        file.flush()
        yield [arg.replace("{query_file}", file.name) for arg in command]


def _error_line(stderr: str) -> str:
    """The line of a client's stderr that says what went wrong."""
    lines = [line for line in stderr.splitlines()
             if line.strip() and not is_noise(line) and not _STACK_FRAME.search(line)]
    for line in lines:
        if _ERROR_LINE.match(line):
            return _short(line)
    return _short(lines[-1]) if lines else "(nothing on stderr)"


def parse_cli_output(stdout: str | bytes, what: str) -> Table:
    """A client's stdout as a table: the header line, then tab-separated rows.

    Blank lines are skipped. Before the header, lines that ``is_noise`` are
    dropped; the first other line is the header. After it, a line with as many
    fields as the header is always a row, even if it looks like noise; a line
    with another field count is dropped if it looks like noise and is an error
    otherwise. So no row that could be recorded is ever dropped. ``NULL`` and
    empty fields become None (beeline and the Hive CLI print NULL for nulls).
    Output that is binary or not UTF-8, and a header that can't name columns
    (see ``output.check_header``), are errors.
    """
    text = decode(stdout, what) if isinstance(stdout, bytes) else stdout
    header: list[str] | None = None
    rows: list[tuple[str | None, ...]] = []
    dropped = 0
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip(" "):
            continue
        if header is None:
            if is_noise(line):
                dropped += 1
            else:
                header = clean_header(line.split("\t"))
                check_header(header, line, what, where=f"line {number}")
            continue
        fields = line.split("\t")
        if len(fields) == len(header):
            rows.append(tuple(None if value in ("", "NULL") else value for value in fields))
        elif is_noise(line):
            dropped += 1
        else:
            raise ExecutionError(
                f"{what} printed {len(fields)} field(s) on line {number} but its header has "
                f"{len(header)} ({', '.join(header)}): {shown(line)}")
    if header is None:
        raise ExecutionError(f"{what} printed no header line" +
                             (f" (only {dropped} log line(s))" if dropped else ""))
    if dropped:
        log.debug("%s: dropped %d log line(s) from its output", what, dropped)
    return Table(header=header, rows=rows)
