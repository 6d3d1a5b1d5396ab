"""Fixtures: the demo's output, and ``reportupdater serve`` running on it.

``demo_output`` runs the real demo once per session into a temporary copy of
the query folder; ``served_demo`` starts the real CLI (uvicorn) on a free
loopback port and polls /healthz until it answers; ``start_server`` starts
more, on folders a test prepares. Every server is stopped at the end.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from servers.graphite import LOCALHOST, _free_port, _terminate, _wait_until_ready

REPO = Path(__file__).resolve().parents[2]
DEMO_NOW = "2026-11-01T00:00:00"


@dataclass
class Demo:
    queries: Path
    output: Path


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)


@dataclass
class RunningServer:
    process: subprocess.Popen
    host: str
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        """GET ``path`` exactly as given (no normalisation of ``..`` or ``%2F``)."""
        return self.request("GET", path, headers=headers)

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> Answer:
        return self.request("POST", path, body, headers)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                          response.read())
        finally:
            connection.close()


def cli(*args: object, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """The real CLI in a child process, importing this checkout's code."""
    return subprocess.run([sys.executable, "-m", "reportupdater", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=_env())


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def make_demo(folder: Path) -> Demo:
    queries = folder / "queries"
    shutil.copytree(REPO / "queries", queries, ignore=shutil.ignore_patterns(".*"))
    shutil.copy(REPO / "config.yaml", queries / "config.yaml")  # the demo's, beside it
    output = folder / "output"
    result = cli("run", queries, output, "--now", DEMO_NOW, "--no-graphite")
    if result.returncode != 0:
        pytest.fail(f"the demo run failed ({result.returncode}):\n{result.stderr}")
    return Demo(queries, output)


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return make_demo(tmp_path_factory.mktemp("demo"))


def _start(queries: Path, output: Path, log_dir: Path, *extra: str) -> RunningServer:
    port = _free_port()
    log = log_dir / f"serve-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "reportupdater", "serve", str(queries), str(output),
             "--port", str(port), "--now", DEMO_NOW, *extra],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=_env())
    server = RunningServer(process, LOCALHOST, port, log)

    def ready() -> bool:
        try:
            return server.get("/healthz").status == 200
        except OSError:
            return False

    _wait_until_ready(process, ready, "reportupdater serve", (log,))
    return server


@pytest.fixture(scope="session")
def served_demo(demo_output: Demo, tmp_path_factory) -> Iterator[RunningServer]:
    server = _start(demo_output.queries, demo_output.output,
                    tmp_path_factory.mktemp("serve-logs"))
    yield server
    _terminate(server.process)


@pytest.fixture
def start_server(tmp_path) -> Iterator:
    """Start ``reportupdater serve QUERIES OUTPUT [ARGS...]``; stopped after the test."""
    started: list[RunningServer] = []

    def start(queries: Path, output: Path, *extra: str) -> RunningServer:
        server = _start(queries, output, tmp_path, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        _terminate(server.process)
