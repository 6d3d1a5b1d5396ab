"""Graphite publishing against a real carbon-cache (and graphite-web).

Reports are `type: script`: a small script in the query folder prints the rows
of ``data.tsv`` whose date is the interval's start (and whose first field is
the explode value), so every expected point is written down in the test.
Dates are relative to today, inside the fixtures' 1d:10y whisper retention.
"""

from __future__ import annotations

import calendar
import datetime as dt
import socket
import textwrap
import threading
import time
from pathlib import Path

import pytest

from reportupdater import cli
from reportupdater.config import GRAPHITE_KEYS, STATSD_KEYS, load_config
from reportupdater.publish import statsd as health
from reportupdater.publish.graphite_points import (PointBuilder, interval_timestamp, numeric,
                                                   sanitise)
from reportupdater.publish.outbox import OUTBOX_DIR, GraphiteOutbox
from reportupdater.publish.sender import GraphiteSender
from reportupdater.intervals import Granularity

REPO = Path(__file__).resolve().parent.parent
TODAY = dt.datetime.combine(dt.datetime.now(dt.timezone.utc).date(), dt.time())
NOW = TODAY - dt.timedelta(days=15)
STARTS = TODAY - dt.timedelta(days=20)  # so a run computes 5 daily intervals


def day(n: int) -> str:
    """The n-th day of the report (0 = STARTS) as a label."""
    return (STARTS + dt.timedelta(days=n)).strftime("%Y-%m-%d")


def ts(n: int) -> int:
    return calendar.timegm((STARTS + dt.timedelta(days=n)).timetuple())


SCRIPT = """\
#!/usr/bin/env python3
import sys
from pathlib import Path

start, key, folder = sys.argv[1], ",".join(sys.argv[3:-1]), Path(sys.argv[-1])
lines = (folder / "data.tsv").read_text().splitlines()
print("\\t".join(lines[0].split("\\t")[1:]))
for line in lines[1:]:
    fields = line.split("\\t")
    if fields[0] == key and fields[1] == start:
        print("\\t".join(fields[1:]))
"""


def data_tsv(header: str, rows: list[tuple]) -> str:
    """``data.tsv``: a key column (the explode values, '' for none), then the report's."""
    lines = ["key\t" + header] + ["\t".join(str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def graphite_config(port: int, **extra) -> str:
    settings = {"host": "127.0.0.1", "port": port, "retries": 1, "timeout": 5, **extra}
    lines = "".join(f"    {k}: {v}\n" for k, v in settings.items())
    return "graphite:\n" + lines


PLAIN_CONFIG = """\
reports:
    plain:
        type: script
        granularity: days
        starts: {starts}
        graphite:
            path: "plain.{{_metric}}"
            metrics:
                visits: visits
                ratio: ratio
"""

PLAIN_ROWS = [("", day(0), 10, "0.5"), ("", day(1), 11, ""), ("", day(2), 12, "n/a"),
              ("", day(3), 13, "1e-3"), ("", day(4), 14, "2.25")]

EXPLODED_CONFIG = """\
reports:
    toggles:
        type: script
        granularity: days
        starts: {starts}
        explode_by:
            wiki: enwiki, dewiki, xxwiki
        graphite:
            path: "{{_metric}}.byEditor.{{editor}}.byEnabled.{{enabled}}.byWiki.{{wiki}}"
            metrics:
                - toggles: toggles
"""

EXPLODED_ROWS = [
    ("enwiki", day(0), "wikitext 2010", "true", 3),
    ("enwiki", day(0), "wikitext_2017", "false", 1),
    ("enwiki", day(1), "wikitext 2010", "true", 4),
    ("enwiki", day(3), "wikitext 2010", "true", 5),
    ("dewiki", day(0), "wikitext 2010", "true", 7),
    ("dewiki", day(4), "wikitext/2017", "true", 8),
    ("xxwiki", day(2), "wikitext 2010", "true", 9),
]
TOGGLES_HEADER = "date\teditor\tenabled\ttoggles"
SITEMATRIX = "enwiki: en_wikipedia\ndewiki: de.wikipedia\n"


@pytest.fixture
def folders(make_folder, tmp_path):
    """make(config, data) -> (query folder, output folder)."""

    def make(config: str, data: str, **files: str) -> tuple[Path, Path]:
        folder = make_folder(config, files={"data.tsv": data, **files},
                             executables={name: SCRIPT for name in ("plain", "toggles")})
        return folder, tmp_path / "output"

    return make


def run_args(folder: Path, output: Path, *extra: object) -> list[object]:
    return ["run", folder, output, "--now", f"{NOW:%Y-%m-%d}", *extra]


def wait_for_values(carbon, metric: str, expected: dict[int, float],
                    timeout: float = 10.0) -> dict[int, float]:
    """Poll whisper until ``metric`` holds exactly ``expected`` (or time runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        points = carbon.peek(metric)
        if points == expected or time.monotonic() > deadline:
            return points
        time.sleep(0.05)


def series_under(carbon, prefix: str) -> list[str]:
    return [m[len(prefix) + 1:] for m in carbon.metrics() if m.startswith(prefix + ".")]


def outbox_points(output: Path) -> int:
    return GraphiteOutbox(output).count()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- pure functions -------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("enwiki", "enwiki"), ("wikitext-2017", "wikitext-2017"), ("en wiki", "en_wiki"),
    ("a/b", "a_b"), ("it's", "it_s"), ('"q"', "_q_"), ("de.wikipedia", "de_wikipedia"),
    ("tab\there", "tab_here"), ("*?[]{}", "______"), ("ümlaut", "_mlaut"), ("", "_"),
])
def test_sanitise(value, expected):
    assert sanitise(value) == expected


@pytest.mark.parametrize("text, expected", [
    ("12", "12"), (" 2.5 ", "2.5"), ("-1e3", "-1e3"), ("0", "0"), ("", None), ("  ", None),
    ("n/a", None), ("true", None), ("nan", None), ("inf", None), ("1_000", None),
    ("١٢", None),
])
def test_numeric(text, expected):
    assert numeric(text) == expected


@pytest.mark.parametrize("label, granularity, start", [
    ("2026-10-07", Granularity.DAYS, "2026-10-07 00:00"),
    ("2026-10-07 13:00:00", Granularity.HOURS, "2026-10-07 13:00"),
    ("2026-10-07", Granularity.WEEKS, "2026-10-04 00:00"),  # a Wednesday; weeks start Sunday
    ("2026-10-07", Granularity.MONTHS, "2026-10-01 00:00"),
])
def test_points_are_stamped_with_the_interval_start_in_utc(label, granularity, start):
    expected = calendar.timegm(dt.datetime.strptime(start, "%Y-%m-%d %H:%M").timetuple())
    assert interval_timestamp(label, granularity) == expected


def test_path_takes_explode_values_through_lookups_then_row_columns_then_metric(
        make_folder):
    folder = make_folder(textwrap.dedent("""\
        graphite: {host: localhost, prefix: "A.B", lookups: {wiki: sitematrix.yaml}}
        reports:
            r:
                type: script
                granularity: days
                starts: 2026-01-01
                explode_by: {wiki: "enwiki", kind: "k1"}
                graphite:
                    path: "{_metric}.{kind}.{wiki}.{editor}"
                    metrics: {edits: edits, kind: kind}
        """), files={"sitematrix.yaml": SITEMATRIX}, executables={"r": SCRIPT})
    config = load_config(folder)
    report = config.report("r")
    builder = PointBuilder(report, config.graphite)
    points = builder.points({"kind": "k1", "wiki": "enwiki"}, ["date", "editor", "edits", "kind"],
                            [["2026-01-02", "vis ual", "4", "7"]])
    day2 = calendar.timegm((2026, 1, 2, 0, 0, 0))
    # The row's own `kind` column wins over the explode value, as in the original.
    assert points == [("A.B.edits.7.en_wikipedia.vis_ual", "4", day2),
                      ("A.B.kind.7.en_wikipedia.vis_ual", "7", day2)]


# -- runs against a real carbon ----------------------------------------------------

def test_plain_report_lands_in_whisper_with_exact_timestamps_and_values(
        carbon_session, metric_prefix, folders, run_cli):
    config = graphite_config(carbon_session.line_port, prefix=metric_prefix)
    folder, output = folders(config + PLAIN_CONFIG.format(starts=day(0)),
                             data_tsv("date\tvisits\tratio", PLAIN_ROWS))

    result = run_cli(*run_args(folder, output))

    assert result.code == cli.EXIT_OK, result.err
    visits = {ts(n): 10.0 + n for n in range(5)}
    assert carbon_session.wait_for(f"{metric_prefix}.plain.visits", 5) == visits
    assert carbon_session.wait_for(f"{metric_prefix}.plain.ratio", 3) == {
        ts(0): 0.5, ts(3): 0.001, ts(4): 2.25}
    assert series_under(carbon_session, metric_prefix) == ["plain.ratio", "plain.visits"]
    skipped = [line for line in result.err.splitlines() if "skipped" in line]
    assert len(skipped) == 1
    assert "report 'plain': 2 value(s) skipped" in skipped[0]
    assert "8 point(s) delivered" in result.err
    assert outbox_points(output) == 0
    assert not list((output / OUTBOX_DIR).glob("*.journal"))


EXPECTED_TOGGLES = {
    "toggles.byEditor.wikitext_2010.byEnabled.true.byWiki.en_wikipedia":
        {ts(0): 3.0, ts(1): 4.0, ts(3): 5.0},
    "toggles.byEditor.wikitext_2017.byEnabled.false.byWiki.en_wikipedia": {ts(0): 1.0},
    "toggles.byEditor.wikitext_2010.byEnabled.true.byWiki.de_wikipedia": {ts(0): 7.0},
    "toggles.byEditor.wikitext_2017.byEnabled.true.byWiki.de_wikipedia": {ts(4): 8.0},
    "toggles.byEditor.wikitext_2010.byEnabled.true.byWiki.xxwiki": {ts(2): 9.0},
}


def exploded_folder(folders, port: int, **graphite_settings) -> tuple[Path, Path]:
    config = graphite_config(port, lookups="{wiki: sitematrix.yaml}", **graphite_settings)
    return folders(config + EXPLODED_CONFIG.format(starts=day(0)),
                   data_tsv(TOGGLES_HEADER, EXPLODED_ROWS), **{"sitematrix.yaml": SITEMATRIX})


def assert_toggles_in_whisper(carbon, prefix: str, expected=EXPECTED_TOGGLES) -> None:
    for name, points in expected.items():
        assert carbon.wait_for(f"{prefix}.{name}", len(points)) == points, name
    assert series_under(carbon, prefix) == sorted(expected)


def test_exploded_report_with_lookups_and_row_columns(carbon_session, metric_prefix,
                                                      folders, run_cli):
    folder, output = exploded_folder(folders, carbon_session.line_port,
                                     prefix=f"{metric_prefix}.MediaWiki.CodeMirror")

    result = run_cli(*run_args(folder, output))

    assert result.code == cli.EXIT_OK, result.err
    assert_toggles_in_whisper(carbon_session, f"{metric_prefix}.MediaWiki.CodeMirror")


def test_pickle_protocol(carbon_session, metric_prefix, folders, run_cli):
    folder, output = exploded_folder(folders, carbon_session.pickle_port,
                                     protocol="pickle", prefix=metric_prefix)

    result = run_cli(*run_args(folder, output))

    assert result.code == cli.EXIT_OK, result.err
    assert_toggles_in_whisper(carbon_session, metric_prefix)


def test_read_back_through_graphite_web_as_grafana_does(carbon, graphite_web, folders,
                                                        run_cli):
    folder, output = exploded_folder(folders, carbon.line_port,
                                     prefix="MediaWiki.CodeMirror")

    assert run_cli(*run_args(folder, output)).code == cli.EXIT_OK
    # /render finds series by their whisper files, so wait until carbon wrote them all.
    assert_toggles_in_whisper(carbon, "MediaWiki.CodeMirror")

    series = graphite_web.render_json(
        "aliasByNode(MediaWiki.CodeMirror.toggles.byEditor.*.byEnabled.true.byWiki.*, 4, 8)",
        ts(0) - 86400, ts(4))
    got = {s["target"]: [[v, t] for v, t in s["datapoints"] if v is not None] for s in series}
    assert got == {
        "wikitext_2010.en_wikipedia": [[3.0, ts(0)], [4.0, ts(1)], [5.0, ts(3)]],
        "wikitext_2010.de_wikipedia": [[7.0, ts(0)]],
        "wikitext_2010.xxwiki": [[9.0, ts(2)]],
        "wikitext_2017.de_wikipedia": [[8.0, ts(4)]],
    }
    # The per-wiki target of docs/graphite.md.
    series = graphite_web.render_json(
        "aliasByNode(sumSeriesWithWildcards(MediaWiki.CodeMirror.toggles.byEditor.*"
        ".byEnabled.true.byWiki.*, 4), 7)", ts(0) - 86400, ts(4))
    got = {s["target"]: [[v, t] for v, t in s["datapoints"] if v is not None] for s in series}
    assert got == {"en_wikipedia": [[3.0, ts(0)], [4.0, ts(1)], [5.0, ts(3)]],
                   "de_wikipedia": [[7.0, ts(0)], [8.0, ts(4)]], "xxwiki": [[9.0, ts(2)]]}


def test_outage_queues_points_and_the_next_run_delivers_them(carbon, folders, run_cli):
    folder, output = exploded_folder(folders, carbon.line_port, prefix="P")
    carbon.stop()

    first = run_cli(*run_args(folder, output))

    assert first.code == cli.EXIT_QUEUED, first.err
    assert sorted(p.name for p in (output / "toggles").iterdir()) == [
        "dewiki.tsv", "enwiki.tsv", "xxwiki.tsv"]
    assert "7 point(s) wait in the outbox" in first.err
    assert outbox_points(output) == 7
    assert not list((output / OUTBOX_DIR).glob("*.journal"))

    carbon.start()
    second = run_cli(*run_args(folder, output))

    assert second.code == cli.EXIT_OK, second.err
    assert "0 interval(s) executed" in second.err
    assert "delivering 7 queued point(s)" in second.err
    assert outbox_points(output) == 0
    assert_toggles_in_whisper(carbon, "P")


RERUN_VISITS = {ts(0): 10.0, ts(1): 111.0, ts(2): 112.0, ts(3): 13.0, ts(4): 14.0}


def change_data_and_request_a_rerun_of_days_1_and_2(folder: Path, run_cli) -> None:
    changed = [(k, d, visits + 100, ratio) for k, d, visits, ratio in PLAIN_ROWS]
    (folder / "data.tsv").write_text(data_tsv("date\tvisits\tratio", changed))
    assert run_cli("rerun", folder, day(1), day(3), "--now", f"{NOW:%Y-%m-%d}").code == 0


def test_rerun_resends_the_overwritten_values(carbon_session, metric_prefix, folders,
                                              run_cli):
    config = graphite_config(carbon_session.line_port, prefix=metric_prefix)
    folder, output = folders(config + PLAIN_CONFIG.format(starts=day(0)),
                             data_tsv("date\tvisits\tratio", PLAIN_ROWS))
    assert run_cli(*run_args(folder, output)).code == cli.EXIT_OK
    metric = f"{metric_prefix}.plain.visits"
    assert carbon_session.wait_for(metric, 5) == {ts(n): 10.0 + n for n in range(5)}

    change_data_and_request_a_rerun_of_days_1_and_2(folder, run_cli)
    result = run_cli(*run_args(folder, output))

    assert result.code == cli.EXIT_OK, result.err
    assert "2 interval(s) executed" in result.err
    assert wait_for_values(carbon_session, metric, RERUN_VISITS) == RERUN_VISITS


def test_the_outbox_goes_first_so_a_rerun_value_is_the_one_kept(
        carbon_session, metric_prefix, folders, run_cli):
    down = graphite_config(closed_port(), prefix=metric_prefix)
    folder, output = folders(down + PLAIN_CONFIG.format(starts=day(0)),
                             data_tsv("date\tvisits\tratio", PLAIN_ROWS))
    assert run_cli(*run_args(folder, output)).code == cli.EXIT_QUEUED
    config = (folder / "config.yaml").read_text()
    (folder / "config.yaml").write_text(config.replace(
        down, graphite_config(carbon_session.line_port, prefix=metric_prefix)))
    change_data_and_request_a_rerun_of_days_1_and_2(folder, run_cli)

    result = run_cli(*run_args(folder, output))

    assert result.code == cli.EXIT_OK, result.err
    assert "delivering 8 queued point(s)" in result.err
    metric = f"{metric_prefix}.plain.visits"
    time.sleep(1.5)  # let carbon write everything it got, in the order it got it
    assert wait_for_values(carbon_session, metric, RERUN_VISITS) == RERUN_VISITS


def test_no_graphite_sends_nothing_and_queues_nothing(folders, run_cli):
    port = closed_port()  # a delivery attempt would fail and queue
    folder, output = exploded_folder(folders, port)
    queued = GraphiteOutbox(output)
    queued.add(b"old.point 1 1700000000\n", 1)

    result = run_cli(*run_args(folder, output, "--no-graphite"))

    assert result.code == cli.EXIT_OK, result.err
    assert (output / "toggles" / "enwiki.tsv").exists()
    assert [p.name for p in queued.path.iterdir()] == [queued.files()[0].name]
    assert outbox_points(output) == 1  # neither delivered nor added to
    assert "graphite" not in result.err


def test_push_replays_history_from_exploded_tsvs(carbon_session, metric_prefix, folders,
                                                 run_cli):
    folder, output = exploded_folder(folders, carbon_session.line_port, prefix=metric_prefix)
    assert run_cli(*run_args(folder, output, "--no-graphite")).code == cli.EXIT_OK
    assert series_under(carbon_session, metric_prefix) == []

    result = run_cli("push", folder, output, "-r", "toggles", "--since", day(1),
                     "--until", day(4))

    assert result.code == cli.EXIT_OK, result.err
    in_range = {name: {t: v for t, v in points.items() if ts(1) <= t < ts(4)}
                for name, points in EXPECTED_TOGGLES.items()}
    assert_toggles_in_whisper(carbon_session, metric_prefix,
                              {n: p for n, p in in_range.items() if p})

    result = run_cli("push", folder, output)

    assert result.code == cli.EXIT_OK, result.err
    assert "7 point(s) from 3 file(s); 7 delivered" in result.err
    assert_toggles_in_whisper(carbon_session, metric_prefix)


@pytest.mark.parametrize("args, message", [
    (["-r", "nographite"], "report 'nographite' has no graphite section"),
    (["-r", "nosuch"], "unknown report 'nosuch'"),
    (["--since", "2026-02-01", "--until", "2026-01-01"], "--since 2026-02-01 00:00:00 must "
                                                         "be before --until"),
])
def test_push_refuses_bad_invocations(folders, run_cli, args, message):
    config = (graphite_config(closed_port()) + PLAIN_CONFIG.format(starts=day(0))
              + "    nographite:\n        type: script\n        granularity: days\n"
                f"        starts: {day(0)}\n        execute: plain\n")
    folder, output = folders(config, data_tsv("date\tvisits\tratio", PLAIN_ROWS))
    output.mkdir()

    result = run_cli("push", folder, output, *args)

    assert result.code == cli.EXIT_USAGE
    assert message in result.err


def test_a_path_that_does_not_fit_the_data_fails_the_report_but_keeps_the_tsv(
        folders, run_cli):
    config = graphite_config(closed_port()) + PLAIN_CONFIG.format(starts=day(0)).replace(
        "plain.{_metric}", "plain.{_metric}.{wiki}")
    folder, output = folders(config, data_tsv("date\tvisits\tratio", PLAIN_ROWS))

    result = run_cli(*run_args(folder, output))

    assert result.code == cli.EXIT_FAILED
    assert len((output / "plain.tsv").read_text().splitlines()) == 6
    assert ("report 'plain': graphite.path 'plain.{_metric}.{wiki}' uses {wiki}, which is "
            "neither an explode placeholder nor a column") in result.err
    assert "reportupdater push -r plain" in result.err
    assert outbox_points(output) == 0


class DroppingReceiver:
    """A TCP peer that reads a little, then closes without reading the rest,
    as a carbon killed mid-delivery does: the sender must not count the
    points as delivered."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.recv(100)
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_a_connection_that_breaks_mid_delivery_loses_no_point(carbon_session,
                                                              metric_prefix, tmp_path):
    receiver = DroppingReceiver()
    try:
        config = load_config_for(tmp_path, receiver.port, metric_prefix)
        outbox = GraphiteOutbox(tmp_path / "out")
        points = [(f"{metric_prefix}.broken.m{i % 7}", str(i), ts(i % 5)) for i in range(3000)]
        sender = GraphiteSender(config, outbox, sleep=lambda s: None)
        sender.send(points)
        delivery = sender.close()
    finally:
        receiver.close()
    assert (delivery.sent, delivery.queued, delivery.lost) == (0, 3000, 0)

    good = GraphiteSender(load_config_for(tmp_path, carbon_session.line_port, metric_prefix),
                          outbox)
    delivery = good.close()  # nothing new: the outbox alone

    assert (delivery.sent, delivery.queued) == (3000, 0)
    last = {}
    for path, value, t in points:
        last.setdefault(path, {})[t] = float(value)  # whisper keeps the last value per slot
    for path, expected in last.items():
        assert wait_for_values(carbon_session, path, expected) == expected


def load_config_for(tmp_path: Path, port: int, prefix: str):
    folder = tmp_path / f"q{port}"
    folder.mkdir(exist_ok=True)
    (folder / "config.yaml").write_text(graphite_config(port, prefix=prefix) + "reports: {}\n")
    return load_config(folder).graphite


def test_a_journal_left_by_a_killed_run_is_delivered(carbon_session, metric_prefix,
                                                     tmp_path):
    outbox = GraphiteOutbox(tmp_path / "out")
    outbox.path.mkdir(parents=True)
    metric = f"{metric_prefix}.journal.m"
    # A journal whose owner died mid-line: the torn last line was never sent.
    (outbox.path / "00000000000000000001-99999.journal").write_text(
        f"{metric} 1 {ts(0)}\n{metric} 2 {ts(1)}\n{metric} 3 {ts(2)}\n{metric} 4")

    delivery = GraphiteSender(load_config_for(tmp_path, carbon_session.line_port, ""),
                              outbox).close()

    assert (delivery.sent, delivery.queued) == (3, 0)
    assert carbon_session.wait_for(metric, 3) == {ts(0): 1.0, ts(1): 2.0, ts(2): 3.0}
    assert list(outbox.path.glob("*.journal")) == []


# -- docs -------------------------------------------------------------------------

def test_docs_name_every_key_and_metric():
    docs = (REPO / "docs" / "graphite.md").read_text()
    for key in sorted(GRAPHITE_KEYS | STATSD_KEYS):
        assert f"`{key}`" in docs, key
    for name in health.COUNTERS + health.TIMERS + health.GAUGES:
        assert name in docs, name
    assert "storage-schemas.conf" in docs and "reportupdater push" in docs
