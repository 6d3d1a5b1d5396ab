"""StatsD health metrics: against npm's statsd daemon flushing into a real
carbon, and, for the exact packets, against a plain UDP socket."""

from __future__ import annotations

import socket
import time

import pytest

from reportupdater import cli
from test_graphite import day, graphite_config, run_args

# `good` computes 5 daily intervals; `flaky` fails on its third.
SCRIPT = """\
#!/bin/sh
[ "$1" = "{bad_day}" ] && {{ echo "no data for $1" >&2; exit 1; }}
printf 'date\\tvalue\\n%s\\t7\\n' "$1"
"""


def health_folder(make_folder, tmp_path, statsd_settings: str, graphite: str = ""):
    config = (graphite + "statsd:\n" + statsd_settings + f"""\
reports:
    good:
        type: script
        granularity: days
        starts: {day(0)}
        graphite: {{path: "health.good.{{_metric}}", metrics: {{value: value}}}}
    flaky:
        type: script
        granularity: days
        starts: {day(0)}
""")
    if not graphite:
        config = config.replace(
            '        graphite: {path: "health.good.{_metric}", metrics: {value: value}}\n', "")
    folder = make_folder(config, executables={
        "good": SCRIPT.format(bad_day="never"), "flaky": SCRIPT.format(bad_day=day(2))})
    return folder, tmp_path / "output"


def wait_for_total(carbon, metric: str, expected: float, timeout: float = 15.0) -> float:
    """The sum of a StatsD series over every flush, once it reaches ``expected``."""
    deadline = time.monotonic() + timeout
    while True:
        total = sum(carbon.peek(metric).values())
        if total == expected or time.monotonic() > deadline:
            return total
        time.sleep(0.1)


@pytest.mark.carbon_retentions("1s:1h")  # one point per flush, so counts can be summed
def test_run_health_reaches_graphite_through_statsd_truthfully(statsd_daemon, carbon,
                                                               make_folder, tmp_path,
                                                               run_cli):
    settings = f"    host: 127.0.0.1\n    port: {statsd_daemon.port}\n    prefix: ru\n"
    folder, output = health_folder(make_folder, tmp_path, settings,
                                   graphite_config(carbon.line_port))

    result = run_cli(*run_args(folder, output))

    assert result.code == cli.EXIT_FAILED  # flaky's third interval failed
    expected_counts = {
        "intervals_executed": 10, "intervals_failed": 1, "reports_succeeded": 1,
        "reports_failed": 1, "rows_written": 9, "files_written": 2,
        # whisper drops these old points (1h retention), but carbon confirmed them
        "graphite_points_sent": 5, "graphite_points_queued": 0,
    }
    got = {name: wait_for_total(carbon, f"stats_counts.ru.{name}", count)
           for name, count in expected_counts.items()}
    assert got == expected_counts
    assert list(statsd_daemon.wait_for_gauge("ru.report.good.backlog").values())[-1] == 0
    assert list(statsd_daemon.wait_for_gauge("ru.report.flaky.backlog").values())[-1] == 1
    assert list(statsd_daemon.wait_for_gauge("ru.graphite_outbox_points").values())[-1] == 0
    assert wait_for_total(carbon, "stats.timers.ru.run.count", 1) == 1
    for report in ("good", "flaky"):
        assert wait_for_total(carbon, f"stats.timers.ru.report.{report}.execution.count",
                              5) == 5
        assert max(carbon.peek(f"stats.timers.ru.report.{report}.execution.upper").values()) > 0


class UdpListener:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def lines(self, quiet: float = 0.5) -> list[str]:
        """Every metric line received until nothing came for ``quiet`` seconds."""
        self.sock.settimeout(quiet)
        received = []
        while True:
            try:
                packet = self.sock.recv(65536)
            except socket.timeout:
                return received
            received += packet.decode().split("\n")


def test_exact_packets_and_silence_with_no_graphite(make_folder, tmp_path, run_cli):
    listener = UdpListener()
    settings = f"    host: 127.0.0.1\n    port: {listener.port}\n    prefix: p.q\n"
    folder, output = health_folder(make_folder, tmp_path, settings)

    result = run_cli(*run_args(folder, output, "-j", "1"))

    assert result.code == cli.EXIT_FAILED
    lines = listener.lines()
    timings = [line for line in lines if line.endswith("|ms")]
    assert sorted(line for line in lines if not line.endswith("|ms")) == sorted([
        "p.q.reports_succeeded:1|c", "p.q.reports_failed:1|c",
        "p.q.intervals_executed:10|c", "p.q.intervals_failed:1|c",
        "p.q.rows_written:9|c", "p.q.files_written:2|c",
        "p.q.graphite_points_sent:0|c", "p.q.graphite_points_queued:0|c",
        "p.q.graphite_outbox_points:0|g",
        "p.q.report.good.backlog:0|g", "p.q.report.flaky.backlog:1|g",
    ])
    names = sorted(line.split(":")[0] for line in timings)
    assert names == ["p.q.report.flaky.execution"] * 5 + ["p.q.report.good.execution"] * 5 + [
        "p.q.run"]

    result = run_cli(*run_args(folder, output, "--no-graphite"))

    assert result.code == cli.EXIT_FAILED  # flaky's interval fails again
    assert listener.lines() == []


def test_an_unknown_statsd_host_does_not_break_the_run(make_folder, tmp_path, run_cli):
    settings = "    host: statsd.invalid\n    port: 8125\n"
    folder, output = health_folder(make_folder, tmp_path, settings)

    result = run_cli(*run_args(folder, output))

    assert result.code == cli.EXIT_FAILED  # flaky only
    assert (output / "good.tsv").exists()
    assert "statsd: cannot use statsd.invalid:8125" in result.err
