"""Graphite: 1,000,000 points through the run's publisher, into a line receiver
and into a real carbon-cache.

The path measured is the one a run takes: ``GraphiteSink`` gets each
timeline's rows (``timeline_written``), builds the points, journals them in
the outbox and sends them; ``publish`` flushes and waits until the
receiver has read everything (carbon confirms nothing, so the sender
half-closes and waits for the receiver to close). Target: at least
200,000 points/s into a local TCP line receiver. The receiver is a separate
process that counts lines, so it takes no CPU from the sender's process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from reportupdater.config import load_config
from reportupdater.publish.graphite import GraphiteSink

from .common import REPO, WORK, figure, fresh_dir

WIKIS = 100
DAYS = 5000
METRICS = 2  # 100 x 5,000 x 2 = 1,000,000 points
FIRST = dt.date(2012, 1, 1)

RECEIVER = textwrap.dedent("""\
    import socket, sys
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    buffer = bytearray(1 << 20)
    lines = 0
    while True:
        connection, _ = server.accept()
        while True:
            n = connection.recv_into(buffer)
            if not n:
                break
            lines += buffer.count(b"\\n", 0, n)
        connection.close()  # after reading everything, as carbon does
        print(lines, flush=True)
    """)


def build(folder: Path = WORK / "graphite"):
    fresh_dir(folder)
    queries = folder / "queries"
    queries.mkdir()
    (queries / "config.yaml").write_text(textwrap.dedent(f"""\
        graphite: {{host: 127.0.0.1, port: 2003, prefix: bench, batch_size: 5000}}
        reports:
            daily:
                type: script
                granularity: days
                starts: {FIRST}
                explode_by: {{wiki: "{', '.join(f'w{n:03d}wiki' for n in range(WIKIS))}"}}
                graphite:
                    path: "{{_metric}}.{{wiki}}"
                    metrics: {{events: events, users: users}}
        """))
    script = queries / "daily"
    script.write_text("#!/bin/sh\nexit 1\n")
    script.chmod(0o755)
    config = load_config(queries)
    if config.problems:
        raise SystemExit("the bench config has problems:\n"
                         + "\n".join(map(str, config.problems)))
    return config, folder


def publish(config, folder: Path, port: int) -> float:
    """Points per second from the first row handed over to the delivery confirmed."""
    report = config.reports[0]
    header = ["date", "events", "users"]
    rows = [[str(FIRST + dt.timedelta(days=d)), str(d % 977), str(d % 89)]
            for d in range(DAYS)]
    output = fresh_dir(folder / f"out-{port}")
    sink = GraphiteSink(dataclasses.replace(config.graphite, port=port), output)
    started = time.perf_counter()
    for explode in report.explode_combinations():
        sink.timeline_written(report, explode, header, rows)
    published = sink.publish()
    seconds = time.perf_counter() - started
    points = WIKIS * DAYS * METRICS
    if published.sent != points or published.failures:
        raise SystemExit(f"graphite: {published.sent} of {points} points confirmed; "
                         f"{[f.describe() for f in published.failures]}")
    return points / seconds


def measure() -> list[str]:
    config, folder = build()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE,
                                text=True)
    try:
        port = int(receiver.stdout.readline())
        line_rate = publish(config, folder, port)
        received = int(receiver.stdout.readline())
    finally:
        receiver.kill()
        receiver.wait()
    if received != WIKIS * DAYS * METRICS:
        raise SystemExit(f"the line receiver got {received} points")
    lines = [figure("graphite: 1,000,000 points into a TCP line receiver",
                    f"{line_rate / 1000:,.0f}k/s", line_rate / 200_000, "target",
                    ">= 200k/s", line_rate >= 200_000)]
    carbon_rate = _into_carbon(config, folder)
    lines.append(figure("graphite: 1,000,000 points into a real carbon-cache",
                        f"{carbon_rate / 1000:,.0f}k/s" if carbon_rate else "not run"))
    return lines


def _into_carbon(config, folder: Path) -> float | None:
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from servers.graphite import CarbonServer  # the test suite's real carbon
    except ImportError as e:
        print(f"# carbon-cache not measured: {e} (run `make bench`, which installs it)")
        return None
    carbon = CarbonServer(fresh_dir(folder / "carbon"), retentions="1d:20y")
    carbon.start()
    try:
        return publish(config, folder, carbon.line_port)
    finally:
        carbon.kill()
