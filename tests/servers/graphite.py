"""Real Graphite (carbon + whisper + graphite-web) and StatsD servers for tests.

A pytest plugin: load it with ``pytest_plugins = ["servers.graphite"]`` in
``tests/conftest.py`` (``tests/`` on ``sys.path``) or ``-p servers.graphite``.

Fixtures
--------
``carbon``               function scope: a fresh :class:`CarbonServer` per test.
                         ``@pytest.mark.carbon_retentions("1h:1y")`` picks other
                         retentions (default ``1d:10y``).
``carbon_session``       session scope: one shared :class:`CarbonServer` (1d:10y);
                         combine with ``metric_prefix`` to keep tests apart.
``metric_prefix``        a metric name component unique to the current test.
``graphite_web``         :class:`GraphiteWeb` (gunicorn) reading ``carbon``'s whisper dir.
``graphite_web_session`` the same over ``carbon_session``.
``statsd_daemon``        :class:`StatsdDaemon` (npm statsd 0.9.0) flushing to ``carbon``.

Every server binds 127.0.0.1 on free ports and keeps all its files in a pytest
temp dir. When a server cannot start, the test fails (never skips) with the
tail of that server's log.

Behaviour of real carbon that tests must allow for (measured):

* Points reach whisper up to about 1 s after sending (nearly 1 s for the
  first points after a start): carbon's writer thread drains its cache, then
  sleeps 1 s, whatever it found. Poll with :meth:`CarbonServer.wait_for`; the
  cache query port only answers reads, it cannot force a write.
* SIGTERM does NOT flush carbon's cache: points not yet in whisper are lost,
  exactly as in a real outage. ``wait_for`` them before :meth:`CarbonServer.stop`
  if they must survive.
* A ``1d`` archive keeps one value per day, aligned to 00:00 UTC, the last one
  written wins; points older than the retention are dropped silently.
* whisper and /render treat ``from`` as exclusive, ``until`` as inclusive.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
import statsd
import whisper

VENV_BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parents[2]

# statsd is an npm package, installed next to the virtualenv by the project's
# install script with exactly this command:
STATSD_INSTALL_COMMAND = "npm install --prefix /work/main/.venv/node statsd@0.9.0"
STATSD_CANDIDATES = (
    Path(sys.prefix) / "node" / "node_modules" / "statsd" / "stats.js",
    REPO_ROOT / ".venv" / "node" / "node_modules" / "statsd" / "stats.js",
)

LOCALHOST = "127.0.0.1"
START_TIMEOUT = 30.0
LOG_TAIL_LINES = 40


# --------------------------------------------------------------------------- helpers


def _free_ports(count: int, kind: int = socket.SOCK_STREAM) -> list[int]:
    # Hold every socket until all are bound, or the kernel may hand out the
    # same port twice.
    socks = [socket.socket(socket.AF_INET, kind) for _ in range(count)]
    try:
        for s in socks:
            s.bind((LOCALHOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    return _free_ports(1, kind)[0]


def _tcp_open(port: int) -> bool:
    try:
        socket.create_connection((LOCALHOST, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _udp_bound(port: int) -> bool:
    """True when some socket is bound to UDP 127.0.0.1:port.

    UDP cannot be probed by connecting, and probing by binding the port
    ourselves could steal it from the daemon at the wrong moment, so read
    the kernel's table (Linux only, like the rest of this project's CI).
    """
    wanted = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/udp") as table:
            return any(line.split()[1] == wanted for line in list(table)[1:])
    except OSError:
        return False


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:]) or "<empty>"


def _fail(what: str, *logs: Path) -> None:
    parts = [what]
    for log in logs:
        parts.append(f"--- tail of {log} ---\n{_tail(log)}")
    pytest.fail("\n".join(parts), pytrace=False)


def _wait_until_ready(
    proc: subprocess.Popen, ready, name: str, logs: tuple[Path, ...], timeout: float = START_TIMEOUT
) -> None:
    """Poll ``ready()``; fail at once if the process dies, or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            _fail(f"{name} exited with code {proc.returncode} while starting", *logs)
        if ready():
            return
        if time.monotonic() > deadline:
            _terminate(proc, sig=signal.SIGKILL)
            _fail(f"{name} did not become ready within {timeout:.0f} s", *logs)
        time.sleep(0.02)


def _terminate(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _read_whisper(path: Path, from_ts: int | None, until_ts: int | None) -> dict[int, float]:
    if from_ts is None:
        # Starting exactly one retention back keeps whisper on the finest
        # archive; an earlier start would make it pick the coarsest one.
        from_ts = int(time.time()) - whisper.info(str(path))["archives"][0]["retention"]
    result = whisper.fetch(str(path), from_ts, until_ts)
    if result is None:
        return {}
    (start, _end, step), values = result
    return {start + i * step: v for i, v in enumerate(values) if v is not None}


# --------------------------------------------------------------------------- carbon


class CarbonServer:
    """A real ``carbon-cache.py`` writing whisper files under ``base_dir``.

    Ports and directories are fixed at construction, so ``stop()`` followed by
    ``start()`` brings back the same server (same ports, same whisper files).
    """

    def __init__(self, base_dir: Path, retentions: str = "1d:10y") -> None:
        self.base_dir = Path(base_dir)
        self.retentions = retentions
        self.line_port, self.pickle_port, self.cache_query_port = _free_ports(3)
        self.conf_dir = self.base_dir / "conf"
        self.storage_dir = self.base_dir / "storage"
        self.whisper_dir = self.storage_dir / "whisper"
        self.log_path = self.base_dir / "carbon.log"
        self.executable = VENV_BIN / "carbon-cache.py"
        self._proc: subprocess.Popen | None = None
        self._write_config()

    def _write_config(self) -> None:
        for d in (self.conf_dir, self.whisper_dir, self.storage_dir / "log", self.storage_dir / "pid"):
            d.mkdir(parents=True, exist_ok=True)
        settings = {
            "STORAGE_DIR": self.storage_dir,
            "LOCAL_DATA_DIR": self.whisper_dir,
            "WHISPER_DIR": self.whisper_dir,
            "CONF_DIR": self.conf_dir,
            "LOG_DIR": self.storage_dir / "log",
            "PID_DIR": self.storage_dir / "pid",
            "LINE_RECEIVER_INTERFACE": LOCALHOST,
            "LINE_RECEIVER_PORT": self.line_port,
            "PICKLE_RECEIVER_INTERFACE": LOCALHOST,
            "PICKLE_RECEIVER_PORT": self.pickle_port,
            "CACHE_QUERY_INTERFACE": LOCALHOST,
            "CACHE_QUERY_PORT": self.cache_query_port,
            "ENABLE_TAGS": False,
            # carbon's own self-metrics would show up in metrics() and whisper.
            "CARBON_METRIC_INTERVAL": 0,
            # Finite limits silently drop points and new metrics.
            "MAX_CACHE_SIZE": "inf",
            "MAX_UPDATES_PER_SECOND": "inf",
            "MAX_CREATES_PER_MINUTE": "inf",
        }
        lines = ["[cache]"] + [f"{k} = {v}" for k, v in settings.items()]
        (self.conf_dir / "carbon.conf").write_text("\n".join(lines) + "\n")
        (self.conf_dir / "storage-schemas.conf").write_text(
            f"[default]\npattern = .*\nretentions = {self.retentions}\n"
        )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        if not self.executable.exists():
            _fail(f"{self.executable} not found: is carbon installed in this virtualenv?")
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [str(self.executable), f"--config={self.conf_dir / 'carbon.conf'}", "--nodaemon", "start"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        ports = (self.line_port, self.pickle_port, self.cache_query_port)
        _wait_until_ready(self._proc, lambda: all(map(_tcp_open, ports)), "carbon-cache", (self.log_path,))

    def stop(self) -> None:
        """Graceful stop (SIGTERM, up to 1 s), as in an outage.

        Points still in carbon's cache are lost; ``wait_for`` them first if
        they must survive. ``start()`` brings the server back.
        """
        _terminate(self._proc)

    def kill(self) -> None:
        # Teardown only: a graceful stop flushes nothing and would cost up to
        # 1 s waiting for the writer thread's sleep.
        _terminate(self._proc, sig=signal.SIGKILL)

    def path_of(self, metric: str) -> Path:
        return self.whisper_dir.joinpath(*metric.split(".")).with_suffix(".wsp")

    def fetch(self, metric: str, from_ts: int | None = None, until_ts: int | None = None) -> dict[int, float]:
        """Non-None points of ``metric`` in (from_ts, until_ts], read from whisper.

        Defaults cover the finest archive's whole retention up to now.
        Returns {} when the metric has no whisper file (yet).
        """
        path = self.path_of(metric)
        if not path.exists():
            return {}
        return _read_whisper(path, from_ts, until_ts)

    def peek(self, metric: str) -> dict[int, float]:
        """Like ``fetch(metric)``, but {} while carbon is still creating the file."""
        try:
            return self.fetch(metric)
        except (whisper.WhisperException, struct.error, OSError):
            # carbon creates the file in place, so a reader can catch it half written.
            return {}

    def wait_for(self, metric: str, expected_count: int = 1, timeout: float = 10.0) -> dict[int, float]:
        """Poll whisper until ``metric`` has at least ``expected_count`` points; return them."""
        deadline = time.monotonic() + timeout
        while True:
            points = self.peek(metric)
            if len(points) >= expected_count:
                return points
            if time.monotonic() > deadline:
                _fail(
                    f"carbon: {metric} ({self.path_of(metric)}) has {len(points)} point(s) {points} "
                    f"after {timeout} s, "
                    f"expected {expected_count}; metrics present: {self.metrics()[:50]}",
                    self.log_path,
                )
            time.sleep(0.05)

    def metrics(self) -> list[str]:
        """All metric names with a whisper file, sorted."""
        return sorted(
            ".".join(p.relative_to(self.whisper_dir).with_suffix("").parts)
            for p in self.whisper_dir.rglob("*.wsp")
        )


def _retentions_from_marker(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("carbon_retentions")
    return marker.args[0] if marker else "1d:10y"


@pytest.fixture
def carbon(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CarbonServer]:
    server = CarbonServer(tmp_path_factory.mktemp("carbon"), _retentions_from_marker(request))
    try:
        server.start()
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="session")
def carbon_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CarbonServer]:
    server = CarbonServer(tmp_path_factory.mktemp("carbon_session"))
    try:
        server.start()
        yield server
    finally:
        server.kill()


_prefix_counter = 0


@pytest.fixture
def metric_prefix(request: pytest.FixtureRequest) -> str:
    """A single metric path component (no dots) unique to this test in the session."""
    global _prefix_counter
    _prefix_counter += 1
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name).strip("_")[:60]
    return f"t{_prefix_counter}_{name}"


# --------------------------------------------------------------------------- graphite-web

_GRAPHITE_SETTINGS = """\
# Generated by tests/servers/graphite.py
SECRET_KEY = "tests-only"
TIME_ZONE = "UTC"  # graphite-web defaults to America/Chicago
STORAGE_DIR = {storage!r}
LOG_DIR = {log!r}
INDEX_FILE = {index!r}
WHISPER_DIR = {whisper!r}
STANDARD_DIRS = [WHISPER_DIR]
CARBONLINK_HOSTS = [{carbonlink!r}]
TAGDB = ""
DATABASES = {{"default": {{"NAME": {db!r}, "ENGINE": "django.db.backends.sqlite3"}}}}
"""
_SETTINGS_MODULE = "graphite_test_settings"


def _graphite_env(base_dir: Path, whisper_dir: Path, cache_query_port: int) -> dict[str, str]:
    """Write a settings module under ``base_dir`` and return the environment using it."""
    settings_dir = base_dir / "settings"
    log_dir = base_dir / "log"
    settings_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(exist_ok=True)
    (settings_dir / f"{_SETTINGS_MODULE}.py").write_text(
        _GRAPHITE_SETTINGS.format(
            storage=str(base_dir),
            log=str(log_dir),
            index=str(base_dir / "index"),
            whisper=str(whisper_dir),
            carbonlink=f"{LOCALHOST}:{cache_query_port}:a",
            db=str(base_dir / "graphite.db"),
        )
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(settings_dir), env.get("PYTHONPATH")]))
    env["GRAPHITE_SETTINGS_MODULE"] = _SETTINGS_MODULE
    env["DJANGO_SETTINGS_MODULE"] = "graphite.settings"
    return env


@pytest.fixture(scope="session")
def _graphite_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated graphite-web sqlite DB, built once (about 1.6 s) and copied per server.

    Without the migration /metrics/find and friends answer 500.
    """
    base = tmp_path_factory.mktemp("graphite_db_template")
    env = _graphite_env(base, base / "whisper", 0)
    log = base / "migrate.log"
    with open(log, "wb") as out:
        rc = subprocess.call(
            [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    if rc != 0:
        _fail(f"graphite-web: django-admin migrate failed with code {rc}", log)
    return base / "graphite.db"


def _gunicorn_has_control_socket() -> bool:
    # The control socket (and the flag turning it off) came with gunicorn 25.1;
    # older versions reject the flag.
    major, minor = (int(x) for x in re.findall(r"\d+", importlib.metadata.version("gunicorn"))[:2])
    return (major, minor) >= (25, 1)


class GraphiteWeb:
    """graphite-web under gunicorn, reading a :class:`CarbonServer`'s whisper dir
    and (through CARBONLINK) its not yet written cache."""

    def __init__(self, base_dir: Path, carbon: CarbonServer, db_template: Path) -> None:
        self.base_dir = Path(base_dir)
        self.carbon = carbon
        self.port = _free_port()
        self.url = f"http://{LOCALHOST}:{self.port}"
        self.log_path = self.base_dir / "gunicorn.log"
        self._env = _graphite_env(self.base_dir, carbon.whisper_dir, carbon.cache_query_port)
        shutil.copy(db_template, self.base_dir / "graphite.db")
        self._proc: subprocess.Popen | None = None

    @property
    def _logs(self) -> tuple[Path, ...]:
        return (self.log_path, self.base_dir / "log" / "exception.log")

    def _ready(self) -> bool:
        # The master listens before its worker has imported Django, so only a
        # real answer from a view proves the server is usable.
        try:
            with urllib.request.urlopen(f"{self.url}/metrics/find?query=*", timeout=5) as resp:
                return resp.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def start(self) -> None:
        gunicorn = VENV_BIN / "gunicorn"
        if not gunicorn.exists():
            _fail(f"{gunicorn} not found: is gunicorn installed in this virtualenv?")
        args = [str(gunicorn), "-w", "1", "-b", f"{LOCALHOST}:{self.port}", "graphite.wsgi:application"]
        if _gunicorn_has_control_socket():
            # Every instance would otherwise share $XDG_RUNTIME_DIR/gunicorn.ctl.
            args.insert(1, "--no-control-socket")
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                args,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Own process group, so stop() can end the master and its worker together.
                start_new_session=True,
            )
        try:
            _wait_until_ready(self._proc, self._ready, "graphite-web (gunicorn)", self._logs)
        except BaseException:  # pytest.fail raises a BaseException
            self.stop()  # don't leave an orphaned worker behind
            raise

    def stop(self) -> None:
        # gunicorn's graceful shutdowns (TERM/INT/QUIT) take 0.35 to 0.5 s and
        # a read-only web app has nothing to save, so kill its process group.
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()

    def render_json(self, target: str, from_ts: int, until_ts: int, **params) -> list[dict]:
        """The parsed ``/render?format=json`` answer: one dict per series."""
        query = urllib.parse.urlencode(
            {"target": target, "from": from_ts, "until": until_ts, "format": "json", **params}
        )
        url = f"{self.url}/render?{query}"
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            _fail(f"graphite-web: GET {url} answered {exc.code}: {exc.read()[:2000]!r}", *self._logs)

    def render(self, target: str, from_ts: int, until_ts: int) -> list[list]:
        """Datapoints ``[value, ts]`` (value None where empty) of the one series
        ``target`` yields, ``[]`` when it matches nothing. ``from`` is exclusive."""
        series = self.render_json(target, from_ts, until_ts)
        if not series:
            return []
        assert len(series) == 1, f"{target!r} matched {len(series)} series; use render_json()"
        return series[0]["datapoints"]


def _graphite_web(carbon: CarbonServer, base_dir: Path, db_template: Path) -> Iterator[GraphiteWeb]:
    server = GraphiteWeb(base_dir, carbon, db_template)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def graphite_web(carbon, tmp_path_factory, _graphite_db_template) -> Iterator[GraphiteWeb]:
    yield from _graphite_web(carbon, tmp_path_factory.mktemp("graphite_web"), _graphite_db_template)


@pytest.fixture(scope="session")
def graphite_web_session(carbon_session, tmp_path_factory, _graphite_db_template) -> Iterator[GraphiteWeb]:
    yield from _graphite_web(carbon_session, tmp_path_factory.mktemp("graphite_web_session"), _graphite_db_template)


# --------------------------------------------------------------------------- statsd

# statsd's default percentThreshold; it decides the names of the timer metrics.
_STATSD_PERCENT = 90
_TIMER_SUFFIXES = ("count", "count_ps", "lower", "mean", "median", "std", "sum", "sum_squares", "upper") + tuple(
    f"{s}_{_STATSD_PERCENT}" for s in ("count", "mean", "sum", "sum_squares", "upper")
)


class StatsdDaemon:
    """npm's statsd 0.9.0 with its graphite backend sending to a :class:`CarbonServer`.

    StatsD stamps each flush with the wall clock, so what it writes always
    lands in today's bucket of a 1d archive. ``deleteIdleStats`` is on: without
    it statsd re-sends idle counters as 0 every second, and in a 1d archive
    that 0 overwrites the count. Within one archive bucket the last flush
    still wins; use ``@pytest.mark.carbon_retentions("1s:1h")`` to see every flush.
    """

    flush_interval_ms = 1000

    def __init__(self, base_dir: Path, carbon: CarbonServer) -> None:
        self.base_dir = Path(base_dir)
        self.carbon = carbon
        self.host = LOCALHOST
        self.port = _free_port(socket.SOCK_DGRAM)
        self.mgmt_port = _free_port()
        self.log_path = self.base_dir / "statsd.log"
        self.config_path = self.base_dir / "statsd.json"
        self._proc: subprocess.Popen | None = None
        self.config_path.write_text(
            json.dumps(
                {
                    "address": LOCALHOST,
                    "port": self.port,
                    "mgmt_address": LOCALHOST,
                    "mgmt_port": self.mgmt_port,
                    "graphiteHost": LOCALHOST,
                    "graphitePort": carbon.line_port,
                    "flushInterval": self.flush_interval_ms,
                    "percentThreshold": [_STATSD_PERCENT],
                    "deleteIdleStats": True,
                    "backends": ["./backends/graphite"],
                },
                indent=2,
            )
        )

    def start(self) -> None:
        stats_js = next((p for p in STATSD_CANDIDATES if p.exists()), None)
        if stats_js is None:
            _fail(
                "statsd daemon not found (looked for "
                + ", ".join(map(str, STATSD_CANDIDATES))
                + f"); install it with: {STATSD_INSTALL_COMMAND}"
            )
        node = shutil.which("node")
        if node is None:
            _fail(f"node not found on PATH; statsd needs node 20 (then: {STATSD_INSTALL_COMMAND})")
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [node, str(stats_js), str(self.config_path)],
                cwd=stats_js.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        # node binds the UDP and management sockets asynchronously; wait for both.
        _wait_until_ready(
            self._proc,
            lambda: _tcp_open(self.mgmt_port) and _udp_bound(self.port),
            "statsd",
            (self.log_path,),
        )

    def stop(self) -> None:
        _terminate(self._proc)

    def client(self, prefix: str | None = None) -> statsd.StatsClient:
        """A PyPI ``statsd.StatsClient`` aimed at this daemon."""
        return statsd.StatsClient(self.host, self.port, prefix=prefix)

    def wait_for(self, metric: str, timeout: float = 10.0) -> dict[int, float]:
        """Wait until the full graphite name ``metric`` has a point in whisper."""
        deadline = time.monotonic() + timeout
        while True:
            points = self.carbon.peek(metric)
            if points:
                return points
            if time.monotonic() > deadline:
                _fail(
                    f"statsd: {metric} did not reach whisper within {timeout} s; "
                    f"metrics present: {self.carbon.metrics()[:50]}",
                    self.log_path,
                    self.carbon.log_path,
                )
            time.sleep(0.05)

    def wait_for_counter(self, name: str, timeout: float = 10.0) -> dict[int, float]:
        """Points of ``stats_counts.<name>`` (the raw count per flush)."""
        return self.wait_for(f"stats_counts.{name}", timeout)

    def wait_for_gauge(self, name: str, timeout: float = 10.0) -> dict[int, float]:
        return self.wait_for(f"stats.gauges.{name}", timeout)

    def wait_for_timer(self, name: str, timeout: float = 10.0) -> dict[str, dict[int, float]]:
        """All ``stats.timers.<name>.*`` series, keyed by suffix (``mean``, ``upper_90``...)."""
        # carbon creates one file at a time, so wait for every expected suffix.
        return {s: self.wait_for(f"stats.timers.{name}.{s}", timeout) for s in _TIMER_SUFFIXES}


@pytest.fixture
def statsd_daemon(carbon, tmp_path_factory) -> Iterator[StatsdDaemon]:
    daemon = StatsdDaemon(tmp_path_factory.mktemp("statsd"), carbon)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


# --------------------------------------------------------------------------- plugin hooks


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "carbon_retentions(spec): whisper retentions for the `carbon` fixture, e.g. '1h:1y' (default '1d:10y')",
    )
