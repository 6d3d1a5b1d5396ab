"""The library: the README's example runs as written, sinks get what they
need whatever their order, and a slow shard lookup holds up no other report."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import REPO

import reportupdater as ru
from reportupdater.engines import EnginePool
from reportupdater.pipeline import RunOptions, run
from reportupdater.publish.graphite import GraphiteSink
from reportupdater.publish.state import StateRecorder
from reportupdater.publish.statsd import StatsdSink, statsd_client
from test_graphite import day, graphite_config, ts
from test_statsd import UdpListener, health_folder


def library_example() -> str:
    """The ```python block under the README's "Use it as a library" heading."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Use it as a library\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def demo_copy(folder: Path) -> Path:
    folder.mkdir()
    shutil.copytree(REPO / "queries", folder / "queries",
                    ignore=shutil.ignore_patterns(".lock", ".reruns", ".reportupdater-triage"))
    shutil.copy(REPO / "config.yaml", folder / "config.yaml")
    return folder


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def python(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_the_readme_library_example_writes_what_the_demo_run_writes(tmp_path):
    example = library_example()
    assert "ru.run(" in example and "ru.status(" in example
    by_cli = demo_copy(tmp_path / "cli")
    by_library = demo_copy(tmp_path / "library")
    (by_library / "example.py").write_text(example)

    cli = python("-m", "reportupdater", "run", "queries", "output", "--now",
                 "2026-11-01T00:00:00", "--no-graphite", cwd=by_cli)
    library = python("example.py", cwd=by_library)

    assert cli.returncode == 0, cli.stderr
    assert library.returncode == 0, library.stderr
    written = files(by_cli / "output")
    assert len(written) == 7  # 3 wikis, 1 weekly, 2 editors, 1 monthly
    assert files(by_library / "output") == written
    lines = library.stdout.splitlines()
    assert lines[0] == "413 1447 0"
    assert "DATE '2026-10-04' AS date" in library.stdout
    assert lines[-4:] == ["toggles_by_editor 2026-10-31 0", "weekly_toggles 2026-10-25 0",
                          "toggles_by_edit_count 2026-10-31 0",
                          "monthly_summary 2026-10-01 0"]


def test_statsd_counts_the_graphite_points_whichever_sink_comes_first(
        carbon_session, metric_prefix, make_folder, tmp_path):
    listener = UdpListener()
    settings = f"    host: 127.0.0.1\n    port: {listener.port}\n    prefix: p\n"
    folder, output = health_folder(make_folder, tmp_path, settings,
                                   graphite_config(carbon_session.line_port,
                                                   prefix=metric_prefix))
    config = ru.load_config(folder)
    sinks = [StatsdSink(statsd_client(config.statsd)),
             StateRecorder(config.report_keys, output), GraphiteSink(config.graphite, output)]
    now = dt.datetime.fromisoformat(day(5))

    summary = ru.run(config, output, now=now, jobs=1, sinks=sinks)

    assert (summary.graphite_sent, summary.graphite_queued) == (5, 0)
    sent = [line for line in listener.lines() if "graphite" in line]
    assert sorted(sent) == ["p.graphite_outbox_points:0|g", "p.graphite_points_queued:0|c",
                            "p.graphite_points_sent:5|c"]
    assert carbon_session.wait_for(f"{metric_prefix}.health.good.value", 5) == {
        ts(n): 7.0 for n in range(5)}


class SlowShardPool(EnginePool):
    """The engine pool, but looking up the slot of report ``sharded`` takes as long
    as the other report needs to be written (as a DNS query that does not answer
    might), up to a minute."""

    def __init__(self, config, written: Path):
        super().__init__(config)
        self.written = written
        self.seen_written: bool | None = None

    def slot(self, report, explode):
        if report.key == "sharded" and self.seen_written is None:
            deadline = time.monotonic() + 60
            while not self.written.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.seen_written = self.written.exists()
        return super().slot(report, explode)


def test_a_slow_slot_lookup_holds_up_no_other_report(make_folder, tmp_path):
    script = "#!/bin/sh\nprintf 'date\\tn\\n%s\\t1\\n' \"$1\"\n"
    folder = make_folder("""
        reports:
            sharded: {type: script, granularity: days, starts: 2026-10-01}
            other: {type: script, granularity: days, starts: 2026-10-01}
        """, executables={"sharded": script, "other": script})
    config = ru.load_config(folder)
    out = tmp_path / "out"
    pool = SlowShardPool(config, out / "other.tsv")
    assert threading.current_thread() is threading.main_thread()

    summary = run(config, RunOptions(out, dt.datetime(2026, 10, 4), jobs=2), pool=pool)

    assert summary.failures == []
    assert pool.seen_written is True
    assert (out / "sharded.tsv").read_text().splitlines()[1:] == [
        "2026-10-01\t1", "2026-10-02\t1", "2026-10-03\t1"]
