"""Serving: ``reportupdater serve`` over the no-op scenario's 900 TSVs x 3,652 rows.

Target: p50 under 20 ms for a single-series data request (JSON, one wiki's
whole timeline), over one kept-alive connection from this process. Printed:
that figure with the series already read once (a person on a report page),
the same with every request for another wiki (each file parsed), the report
list and a conditional GET answered 304.
"""

from __future__ import annotations

import http.client
import socket
import statistics
import subprocess
import sys
import time

from .common import REPO, figure
from . import noop

REQUESTS = 200
TARGET_MS = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(queries, output, port: int) -> subprocess.Popen:
    # This checkout's code (cwd), whichever checkout the virtualenv was installed from.
    process = subprocess.Popen([sys.executable, "-m", "reportupdater", "serve", str(queries), str(output), "--port", str(port),
                                      "--now", noop.NOW, "--log-level", "warning"],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited {process.returncode}: "
                               f"{process.stderr.read().decode(errors='replace')}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("serve did not answer /healthz within 60 s")


def _timed(connection: http.client.HTTPConnection, path: str,
           headers: dict[str, str] | None = None, status: int = 200) -> float:
    started = time.perf_counter()
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    seconds = time.perf_counter() - started
    if response.status != status:
        raise RuntimeError(f"GET {path}: {response.status}, expected {status}")
    return seconds * 1000


def measure() -> list[str]:
    queries, output = noop.build()
    wikis = noop.wiki_names(noop.WIKIS)
    port = _free_port()
    process = _start(queries, output, port)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def data(wiki: str) -> str:
            return f"/api/reports/daily_by_wiki/data?explode.wiki={wiki}"

        cold = [_timed(c, data(wikis[i % len(wikis)])) for i in range(REQUESTS)]
        warm = [_timed(c, data(wikis[i % 10])) for i in range(REQUESTS)]
        c.request("GET", data(wikis[0]))
        response = c.getresponse()
        response.read()
        etag = response.getheader("ETag")
        conditional = [_timed(c, data(wikis[0]), {"If-None-Match": etag}, 304)
                       for _ in range(REQUESTS)]
        first_list = _timed(c, "/api/reports")
        listing = [_timed(c, "/api/reports") for _ in range(20)]
        c.close()
    finally:
        process.terminate()
        process.wait(10)
    p50 = statistics.median(warm)
    return [
        figure(f"serve, {noop.WIKIS} TSVs x 3,652 rows: p50 of a one-series data request",
               f"{p50:.1f} ms", p50 / TARGET_MS, "target", f"< {TARGET_MS:.0f} ms",
               p50 < TARGET_MS),
        figure("serve: p50 of a data request, each for another series (file parsed)",
               f"{statistics.median(cold):.1f} ms", statistics.median(cold) / TARGET_MS,
               "20 ms"),
        figure("serve: p50 of a conditional data request answered 304",
               f"{statistics.median(conditional):.1f} ms"),
        figure("serve: the report list, first request (reads every file)",
               f"{first_list:.0f} ms"),
        figure("serve: p50 of the report list after it (files unchanged)",
               f"{statistics.median(listing):.1f} ms"),
    ]
