"""A private MariaDB for tests that stop the server: its own datadir, socket and port.

A pytest plugin (``pytest_plugins = ["servers.mariadb"]`` in ``tests/conftest.py``).

Fixtures
--------
``private_mariadb``  session scope: a :class:`PrivateMariadb` on 127.0.0.1 and a
                     free port, started with ``--skip-grant-tables`` (any user,
                     no password) from a fresh ``mariadb-install-db`` datadir in
                     a pytest temp dir. About 1 s to install, 1 s to start.
                     ``frozen()`` stops it with SIGSTOP and always resumes it.

Tests freeze this one, never the shared server on 3306 that other test runs
use. When it cannot start (no MariaDB installed, the process dies, the port
never answers), the fixture fails, never skips, with the tail of its log.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pymysql
import pytest

START_TIMEOUT = 60.0


@dataclass
class PrivateMariadb:
    host: str
    port: int
    process: subprocess.Popen
    datadir: Path

    def connect(self, **options) -> pymysql.connections.Connection:
        return pymysql.connect(host=self.host, port=self.port, user="root", password="",
                               autocommit=True, **options)

    def execute(self, sql: str, args=None) -> tuple:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchall()
        finally:
            connection.close()

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The server stopped (SIGSTOP): it accepts connections and never answers."""
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _program(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)
    if found is None:
        pytest.fail(f"{name} is not installed; `make test` installs mariadb-server")
    return found


@pytest.fixture(scope="session")
def private_mariadb(tmp_path_factory) -> Iterator[PrivateMariadb]:
    root = tmp_path_factory.mktemp("mariadb")
    datadir, log = root / "data", root / "error.log"
    user = getpass.getuser()
    small = ["--innodb-buffer-pool-size=16M", "--innodb-log-file-size=4M"]
    install = subprocess.run(
        [_program("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}",
         f"--user={user}", "--skip-test-db", "--auth-root-authentication-method=normal",
         *small], capture_output=True, text=True)
    if install.returncode != 0:
        pytest.fail(f"mariadb-install-db failed: {install.stderr[-2000:]}")
    port = free_port()
    process = subprocess.Popen(
        [_program("mariadbd"), "--no-defaults", f"--datadir={datadir}",
         f"--socket={root / 'mariadb.sock'}", f"--pid-file={root / 'mariadb.pid'}",
         f"--port={port}", "--bind-address=127.0.0.1", f"--user={user}",
         "--skip-grant-tables", "--skip-log-bin", f"--log-error={log}", *small],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = PrivateMariadb("127.0.0.1", port, process, datadir)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            server.connect(connect_timeout=2).close()
            break
        except pymysql.MySQLError:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the private MariaDB on port {port} did not start: {tail}")
            time.sleep(0.1)
    yield server
    os.kill(process.pid, signal.SIGCONT)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
