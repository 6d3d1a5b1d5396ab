"""The real Graphite and StatsD fixtures of tests/servers/graphite.py do what they promise."""

import pickle
import socket
import struct
import time

import pytest

DAY = 86400
HOUR = 3600


def send_lines(port: int, lines: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall("".join(line + "\n" for line in lines).encode())


def send_pickle(port: int, points: list[tuple[str, tuple[int, float]]]) -> None:
    # carbon's pickle protocol: a 4-byte big-endian length, then a pickled
    # list of (metric, (timestamp, value)).
    payload = pickle.dumps(points, protocol=2)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(struct.pack("!L", len(payload)) + payload)


def today() -> int:
    """00:00 UTC today, where a 1d archive puts anything sent today."""
    now = int(time.time())
    return now - now % DAY


def test_plaintext_daily_points_read_back_exactly(carbon):
    days = [today() - n * DAY for n in (1, 10, 100)]
    send_lines(carbon.line_port, [f"a.b.c {42 + i} {ts}" for i, ts in enumerate(days)])

    assert carbon.wait_for("a.b.c", 3) == {days[0]: 42.0, days[1]: 43.0, days[2]: 44.0}
    assert carbon.metrics() == ["a.b.c"]
    # from is exclusive, until inclusive, as in whisper and graphite-web.
    assert carbon.fetch("a.b.c", days[2], days[0]) == {days[0]: 42.0, days[1]: 43.0}


def test_pickle_batch(carbon):
    day = today() - 2 * DAY
    send_pickle(
        carbon.pickle_port,
        [("p.one", (day, 1.5)), ("p.two", (day, 2.0)), ("p.two", (day - DAY, 3.0))],
    )

    assert carbon.wait_for("p.one", 1) == {day: 1.5}
    assert carbon.wait_for("p.two", 2) == {day: 2.0, day - DAY: 3.0}


@pytest.mark.carbon_retentions("1h:1y")
def test_hourly_retention_aligns_to_the_hour_and_drops_old_points(carbon):
    hour = int(time.time()) // HOUR * HOUR - 5 * HOUR
    too_old = hour - 400 * DAY
    send_lines(carbon.line_port, [f"h.m 7 {hour + 1234}", f"h.old 1 {too_old}", f"h.m 8 {hour - HOUR}"])

    assert carbon.wait_for("h.m", 2) == {hour - HOUR: 8.0, hour: 7.0}
    # carbon creates the file, then whisper silently ignores the point.
    deadline = time.monotonic() + 10
    while "h.old" not in carbon.metrics() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "h.old" in carbon.metrics()
    assert carbon.fetch("h.old") == {}


def test_render_through_graphite_web(carbon, graphite_web):
    days = [today() - n * DAY for n in (3, 2)]
    send_lines(carbon.line_port, [f"r.x 5 {days[0]}", f"r.x 6 {days[1]}"])
    carbon.wait_for("r.x", 2)

    datapoints = graphite_web.render("r.x", days[0] - DAY, days[1])
    assert [[v, ts] for v, ts in datapoints if v is not None] == [[5.0, days[0]], [6.0, days[1]]]
    assert all(ts % DAY == 0 for _, ts in datapoints)
    assert graphite_web.render("sumSeries(r.*)", days[0] - DAY, days[1])[-1] == [6.0, days[1]]
    assert graphite_web.render("no.such.metric", days[0], days[1]) == []


def test_outage_stop_and_start_on_same_ports_and_files(carbon):
    day = today() - DAY
    send_lines(carbon.line_port, [f"o.m 1 {day - DAY}"])
    carbon.wait_for("o.m", 1)
    ports = (carbon.line_port, carbon.pickle_port)

    carbon.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", carbon.line_port), timeout=2)

    carbon.start()
    assert (carbon.line_port, carbon.pickle_port) == ports
    send_lines(carbon.line_port, [f"o.m 2 {day}"])
    assert carbon.wait_for("o.m", 2) == {day - DAY: 1.0, day: 2.0}


def test_session_carbon_with_unique_prefix(carbon_session, metric_prefix):
    metric, day = f"{metric_prefix}.s", today()
    send_lines(carbon_session.line_port, [f"{metric} 3 {day}"])
    assert carbon_session.wait_for(metric, 1) == {day: 3.0}
    assert "." not in metric_prefix


def test_statsd_counter_lands_in_stats_counts(statsd_daemon):
    # One packet, so one flush carries the whole count: in a 1d archive a
    # later flush of the same day would overwrite it.
    statsd_daemon.client().incr("reportupdater.runs", 5)

    points = statsd_daemon.wait_for_counter("reportupdater.runs")
    assert list(points.values()) == [5.0]
    # statsd stamps the flush with the wall clock; the 1d archive aligns it.
    assert [ts % DAY for ts in points] == [0] and abs(next(iter(points)) - today()) <= DAY


def test_statsd_timer_and_gauge(statsd_daemon):
    client = statsd_daemon.client(prefix="ru")
    with client.pipeline() as pipe:
        pipe.timing("query", 120)
        pipe.gauge("rows", 17)

    timer = statsd_daemon.wait_for_timer("ru.query")
    assert list(timer["upper"].values()) == [120.0]
    assert list(timer["count"].values()) == [1.0]
    assert list(statsd_daemon.wait_for_gauge("ru.rows").values()) == [17.0]


@pytest.mark.carbon_retentions("1s:1h")
def test_statsd_counts_per_flush_with_fine_retention(statsd_daemon, carbon):
    client = statsd_daemon.client()
    client.incr("fine", 2)
    statsd_daemon.wait_for_counter("fine")
    client.incr("fine", 3)

    points = carbon.wait_for("stats_counts.fine", 2)
    assert sorted(points.values()) == [2.0, 3.0]
