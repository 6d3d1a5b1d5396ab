"""Shared fixtures: real MariaDB databases, query folders, and the CLI.

Server fixtures live in tests/servers/ (Hive, Graphite, a private MariaDB to
freeze, DNS).
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

from reportupdater import cli

pytest_plugins = ["servers.hive", "servers.graphite", "servers.web", "servers.mariadb",
                  "servers.dns", "servers.alerting"]

REPO = Path(__file__).resolve().parent.parent
MARIADB = dict(host=os.environ.get("RU_TEST_MYSQL_HOST", "127.0.0.1"),
               port=int(os.environ.get("RU_TEST_MYSQL_PORT", "3306")), user="root",
               password="")


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys):
    """Call the real entry point; return its exit code, stdout and stderr."""

    def call(*args: object) -> Result:
        capsys.readouterr()
        try:
            code = cli.main([str(a) for a in args])
        finally:
            # The handler writes to this test's captured stderr: don't outlive it.
            root = logging.getLogger()
            for handler in list(root.handlers):
                if getattr(handler, "_reportupdater", False):
                    root.removeHandler(handler)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return call


@pytest.fixture
def make_folder(tmp_path):
    """Write a query folder: config.yaml plus files; executables get chmod +x."""

    def make(config: str, files: dict[str, str] | None = None,
             executables: dict[str, str] | None = None, name: str = "queries") -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.yaml").write_text(textwrap.dedent(config))
        for rel, text in (files or {}).items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        for rel, text in (executables or {}).items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip())
            path.chmod(0o755)
        return folder

    return make


def read_tsv(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


@pytest.fixture(scope="session")
def mariadb_server():
    """The local MariaDB (the test command starts it). Fails, never skips."""
    try:
        connection = pymysql.connect(**MARIADB, autocommit=True)
    except pymysql.MySQLError as e:
        pytest.fail(f"MariaDB is not reachable at {MARIADB['host']}:{MARIADB['port']} as "
                    f"root without a password ({e}); run `make test`, which starts it")
    yield connection
    connection.close()


@pytest.fixture
def mysql_db(mariadb_server, tmp_path):
    """A fresh database, dropped afterwards, and a my.cnf creds file for it."""
    name = f"ru_test_{secrets.token_hex(4)}"
    with mariadb_server.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    creds = tmp_path / "my.cnf"
    creds.write_text(f"[client]\nuser = root\npassword =\nhost = {MARIADB['host']}\n")
    connection = pymysql.connect(**MARIADB, database=name, autocommit=True)

    class Db:
        pass

    db = Db()
    db.name, db.creds, db.connection = name, creds, connection
    db.host, db.port = MARIADB["host"], MARIADB["port"]

    def execute(sql: str, args=None):
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()

    def executemany(sql: str, rows):
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    db.execute, db.executemany = execute, executemany
    yield db
    connection.close()
    with mariadb_server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE {name}")


def run_subprocess(*args: str, cwd: Path = REPO, **kw) -> subprocess.CompletedProcess:
    """The installed command in a real process (for signals, locks, stdio)."""
    return subprocess.run([sys.executable, "-m", "reportupdater", *args], cwd=cwd,
                          capture_output=True, text=True, **kw)
