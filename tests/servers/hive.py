"""A real HiveServer2 for tests: Spark's Thrift server from PyPI's ``pyspark``.

A pytest plugin: load it with ``pytest_plugins = ["servers.hive"]`` in
``tests/conftest.py`` (``tests/`` on ``sys.path``) or ``-p servers.hive``.

Fixtures
--------
``hive_server``  session scope: a :class:`HiveServer` bound to 127.0.0.1 on a
                 free port, with a fresh warehouse and Derby metastore in a
                 pytest temp dir. About 9 s to start on an idle 2-core
                 machine (20 s under load), 0.5 to 2.5 s to stop.

Helpers
-------
``create_event_table(server, table, rows)``  an event table shaped like the
                 cluster's (``wiki``, ``event`` STRUCT, ``dt``, partitioned by
                 string ``year``/``month``/``day``), filled in one INSERT.

When the server cannot start (pyspark or java missing, the process dies, the
port never opens) the fixture fails, never skips, with the tail of its log.

Behaviour of the real thing that callers must allow for (measured with
pyspark 4.3.0, beeline 2.3.10, pyhive 0.7.0):

* pyhive: STRUCT, MAP and ARRAY values come back as JSON strings
  (``'{"action":"edit","n":1}'``), BOOLEAN as ``bool``, BIGINT/INT as ``int``,
  DATE as a ``'YYYY-MM-DD'`` string, DECIMAL as ``Decimal``, TIMESTAMP as
  ``datetime``, NULL as ``None``. Errors raise ``pyhive.exc.OperationalError``
  whose ``args[0].status`` carries ``sqlState`` and ``errorMessage``
  (``"Error running query: [TABLE_OR_VIEW_NOT_FOUND] ..."``).
* beeline ``-e`` without ``--allowMultiLineCommand=false`` (see
  :meth:`HiveServer.beeline_command`) prints its prompt
  ``0: jdbc:hive2://...> `` on stdout, glued to the header line, whenever the
  SQL does not end with ``;``. Beeline 2.3 also drops everything after the
  first ``--`` comment in ``-e`` SQL, so strip such comments before calling it.
  ``-f file`` is worse: it writes ``\\rnull<spaces>\\rnull`` around the output.
  Every statement in ``-e`` prints its own block on stdout: DDL and ``USE``
  print a lone ``Result`` header, ``SET k=v`` prints ``key<TAB>value`` and a row.
* Cancelling: ``cursor.execute(sql, async_=True)`` then ``cursor.cancel()``
  stops the Spark job within 0.1 s. A synchronous ``execute`` has no operation
  handle until it returns, so it cannot be cancelled, and a client that dies
  leaves its query running on the server. SIGINT or SIGTERM to beeline does
  cancel its query (exit 1 resp. 143, about 3 s).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import pytest

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
USER = "ci"
STARTUP_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 40

EVENT_FIELDS = (
    ("action", "STRING"),
    ("editor", "STRING"),
    ("enabled", "BOOLEAN"),
    ("user_edit_count_bucket", "STRING"),
)


@dataclass
class HiveServer:
    """A running Spark Thrift server speaking the HiveServer2 protocol."""

    host: str
    port: int
    spark_home: Path
    beeline: Path
    # The complete environment for running ``beeline`` (or spark-submit) in a
    # subprocess: os.environ plus JAVA_HOME, SPARK_HOME and SPARK_LOCAL_IP.
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen = field(repr=False)
    jdbc_url: str = field(init=False)
    _connection: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.jdbc_url = f"jdbc:hive2://{self.host}:{self.port}/default"

    def beeline_command(self, sql: str, *extra_args: str) -> list[str]:
        """The beeline argv that prints ``sql``'s result as clean TSV on stdout.

        Without ``--allowMultiLineCommand=false`` beeline writes its prompt to
        stdout whenever ``sql`` does not end with ``;``.
        """
        return [
            str(self.beeline),
            "-u", self.jdbc_url,
            "-n", USER,
            "--outputformat=tsv2",
            "--silent=true",
            "--allowMultiLineCommand=false",
            *extra_args,
            "-e", sql,
        ]

    def connect(self):
        """A new pyhive connection (the caller closes it)."""
        from pyhive import hive

        return hive.connect(host=self.host, port=self.port, auth="NONE", username=USER)

    def execute(self, sql: str) -> list[tuple]:
        """Run one statement on a shared pyhive connection; return its rows."""
        if self._connection is None:
            self._connection = self.connect()
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql)
            if cursor.description is None:
                return []
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def close_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # the server may already be gone at teardown
                pass
            self._connection = None


def _log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _find_spark_home() -> Path:
    try:
        import pyspark
    except ImportError as exc:
        pytest.fail(
            f"hive_server: cannot import pyspark ({exc}); "
            "install it into the test virtualenv: pip install pyspark==4.3.0",
            pytrace=False,
        )
    spark_home = Path(pyspark.__file__).resolve().parent
    jar = spark_home / "jars"
    if not any(jar.glob("spark-hive-thriftserver_*.jar")):
        pytest.fail(
            f"hive_server: {jar} has no spark-hive-thriftserver jar; "
            "the pyspark build lacks the Thrift server",
            pytrace=False,
        )
    # A pyspark unpacked without its file modes has non-executable scripts;
    # beeline and spark-submit exec spark-class and find-spark-home.
    for name in ("beeline", "spark-submit", "spark-class", "find-spark-home"):
        script = spark_home / "bin" / name
        if script.exists() and not os.access(script, os.X_OK):
            script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return spark_home


def _find_java_home() -> Path:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return Path(java_home)
    java = shutil.which("java")
    if java is None:
        pytest.fail(
            "hive_server: no java on PATH and no usable JAVA_HOME; "
            "Spark's Thrift server needs Java 17 (apt-get install openjdk-17-jre-headless)",
            pytrace=False,
        )
    # /usr/bin/java is an alternatives symlink; JAVA_HOME is two levels above the real binary.
    return Path(java).resolve().parent.parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _server_env(spark_home: Path, java_home: Path, conf_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Cluster client configs on the developer's machine must not leak in.
    for name in ("HADOOP_CONF_DIR", "YARN_CONF_DIR", "HIVE_CONF_DIR", "SPARK_CONF_DIR"):
        env.pop(name, None)
    env.update(
        SPARK_HOME=str(spark_home),
        JAVA_HOME=str(java_home),
        PATH=f"{java_home / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        SPARK_LOCAL_IP=HOST,
        SPARK_CONF_DIR=str(conf_dir),
    )
    return env


def _server_command(spark_home: Path, port: int, base: Path) -> list[str]:
    tmp = base / "tmp"
    return [
        str(spark_home / "bin" / "spark-submit"),
        "--master", "local[2]",
        "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--driver-memory", "1g",
        # Hive's session resources and operation logs default to java.io.tmpdir;
        # keep them and derby.log out of /tmp and the repo.
        "--driver-java-options", f"-Djava.io.tmpdir={tmp} -Dderby.system.home={base}",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.shuffle.partitions=2",
        "--conf", f"spark.local.dir={tmp}",
        "--conf", f"spark.sql.warehouse.dir={base / 'warehouse'}",
        "--conf",
        "spark.hadoop.javax.jdo.option.ConnectionURL="
        f"jdbc:derby:;databaseName={base / 'metastore_db'};create=true",
        "--hiveconf", f"hive.server2.thrift.bind.host={HOST}",
        "--hiveconf", f"hive.server2.thrift.port={port}",
        "--hiveconf", "hive.server2.authentication=NONE",
        "--hiveconf", f"hive.exec.scratchdir={base / 'scratch'}",
    ]


def _port_is_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start_hive_server(base: Path) -> HiveServer:
    """Start a Thrift server keeping all its files under ``base``; wait for its port."""
    spark_home = _find_spark_home()
    java_home = _find_java_home()
    for sub in ("tmp", "conf", "scratch"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    env = _server_env(spark_home, java_home, base / "conf")
    port = _free_port()
    log_path = base / "server.log"
    started = time.monotonic()
    with open(log_path, "wb") as log_file:
        try:
            process = subprocess.Popen(
                _server_command(spark_home, port, base),
                cwd=base,  # Derby writes derby.log into the cwd
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, for killpg
            )
        except OSError as exc:
            pytest.fail(f"hive_server: cannot run spark-submit: {exc}", pytrace=False)

    server = HiveServer(
        host=HOST,
        port=port,
        spark_home=spark_home,
        beeline=spark_home / "bin" / "beeline",
        env=env,
        log_path=log_path,
        process=process,
    )
    deadline = started + STARTUP_TIMEOUT
    while not _port_is_open(port):
        problem = None
        if process.poll() is not None:
            problem = f"exited with code {process.returncode} before opening port {port}"
        elif time.monotonic() > deadline:
            problem = f"did not open port {port} within {STARTUP_TIMEOUT:.0f} s"
        if problem:
            _stop(process)
            pytest.fail(
                f"hive_server: Spark Thrift server {problem}.\n"
                f"Last lines of {log_path}:\n{_log_tail(log_path)}",
                pytrace=False,
            )
        time.sleep(0.2)
    log.info("hive_server: port %d open after %.1f s", port, time.monotonic() - started)
    return server


def stop_hive_server(server: HiveServer) -> None:
    server.close_connection()
    started = time.monotonic()
    _stop(server.process)
    log.info("hive_server: stopped in %.1f s", time.monotonic() - started)


@pytest.fixture(scope="session")
def hive_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HiveServer]:
    server = start_hive_server(tmp_path_factory.mktemp("hive"))
    try:
        yield server
    finally:
        stop_hive_server(server)


def _sql_string(value: str) -> str:
    # Spark SQL string literals honour backslash escapes.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_value(value: Any, sql_type: str) -> str:
    if value is None:
        # A bare NULL inside named_struct is typed VOID; cast so the struct matches the column.
        return f"CAST(NULL AS {sql_type})"
    if sql_type == "BOOLEAN":
        return "TRUE" if value else "FALSE"
    return _sql_string(str(value))


def _event_row_sql(row: Mapping[str, Any]) -> str:
    event = row.get("event") or {}
    unknown = set(event) - {name for name, _ in EVENT_FIELDS}
    if unknown:
        raise ValueError(f"event fields not in the table: {sorted(unknown)}")
    struct = ", ".join(
        f"{_sql_string(name)}, {_sql_value(event.get(name), sql_type)}"
        for name, sql_type in EVENT_FIELDS
    )
    dt = row["dt"]
    values = [
        _sql_value(row.get("wiki"), "STRING"),
        f"named_struct({struct})",
        _sql_string(dt),
        _sql_string(row.get("year", dt[0:4])),
        _sql_string(row.get("month", dt[5:7])),
        _sql_string(row.get("day", dt[8:10])),
    ]
    return "(" + ", ".join(values) + ")"


def create_event_table(
    server: HiveServer, table: str, rows: Iterable[Mapping[str, Any]]
) -> None:
    """(Re)create ``table`` shaped like the cluster's event tables and insert ``rows``.

    Each row is a dict: ``wiki``, ``event`` (a dict of :data:`EVENT_FIELDS`,
    missing fields are NULL), ``dt`` (``'YYYY-MM-DDTHH:MM:SSZ'``) and the
    ``year``/``month``/``day`` partition strings (derived from ``dt`` when
    absent, zero-padded as on the cluster).
    """
    event_type = ", ".join(f"{name}:{sql_type}" for name, sql_type in EVENT_FIELDS)
    server.execute(f"DROP TABLE IF EXISTS {table}")
    server.execute(
        f"CREATE TABLE {table} (wiki STRING, event STRUCT<{event_type}>, dt STRING) "
        "PARTITIONED BY (year STRING, month STRING, day STRING) STORED AS PARQUET"
    )
    values = [_event_row_sql(row) for row in rows]
    if not values:
        return
    # One dynamic-partition INSERT costs about 1 s whatever the number of days
    # (3.5 s as the server's first write); static inserts cost 0.4 s per partition.
    server.execute("SET hive.exec.dynamic.partition.mode=nonstrict")
    server.execute(
        f"INSERT INTO {table} PARTITION (year, month, day) VALUES " + ", ".join(values)
    )
