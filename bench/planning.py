"""First-run planning: 900 wikis x 10 years of daily data, nothing done yet.

3,286,800 intervals are due. The target is the first query within
2 s of the process start, at under 200 MB RSS. The report is a script that
appends its start time to a file, so the first query's start is measured from
outside; the run goes on for a few seconds (memory must stay flat while it
works through the plan), then gets SIGTERM, which must leave only whole TSVs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

from reportupdater import timeline as tl
from reportupdater.intervals import Granularity

from .common import CLI, REPO, WORK, figure, fresh_dir
from .noop import wiki_names

WIKIS = 900
STARTS = "2016-11-01"
NOW = "2026-11-01"  # 2016-11-01 .. 2026-10-31: 900 x 3,652 = 3,286,800 intervals
RUN_AFTER_FIRST_QUERY = 3.0


def build(folder: Path = WORK / "planning") -> tuple[Path, Path, Path]:
    fresh_dir(folder)
    queries = folder / "queries"
    queries.mkdir()
    started = folder / "started"
    (queries / "wikis.txt").write_text("\n".join(wiki_names(WIKIS)) + "\n")
    (queries / "config.yaml").write_text(textwrap.dedent(f"""\
        reports:
            daily_by_wiki:
                type: script
                granularity: days
                starts: {STARTS}
                explode_by: {{wiki: wikis.txt}}
        """))
    script = queries / "daily_by_wiki"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        # start end wiki folder: note when it started, print one row
        date +%s.%N >> {started}
        printf 'date\\tn\\n%s\\t1\\n' "$1"
        """))
    script.chmod(0o755)
    return queries, folder / "output", started


def measure() -> list[str]:
    queries, output, started = build()
    begin = time.time()
    process = subprocess.Popen(
        CLI + ["run", str(queries), str(output), "--now", NOW, "--no-graphite",
               "--checkpoint-seconds", "1"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not (started.exists() and started.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the planning run never started a query:\n"
                             + process.stderr.read().decode(errors="replace"))
        time.sleep(0.002)
    first = min(float(line) for line in started.read_text().split()) - begin
    time.sleep(RUN_AFTER_FIRST_QUERY)
    queries_run = len(started.read_text().split())
    process.send_signal(signal.SIGTERM)
    stderr = process.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    peak = usage.ru_maxrss / 1024
    code = os.waitstatus_to_exitcode(status)
    if code != 130:
        raise SystemExit(f"SIGTERM should stop the run with status 130, not {code}:\n"
                         f"{stderr[-2000:]}")
    whole = _check_whole(output)
    return [
        figure("first run, 3,286,800 due intervals: first query after",
               f"{first:.3f} s", first / 2.0, "target", "< 2 s", first < 2.0),
        figure(f"first run: peak RSS ({queries_run:,} intervals run in "
               f"{RUN_AFTER_FIRST_QUERY:g} s)", f"{peak:.0f} MB", peak / 200, "target",
               "< 200 MB", peak < 200),
        figure("first run: SIGTERM, then every TSV whole, no temp file",
               f"{whole} files"),
    ]


def _check_whole(output: Path) -> int:
    files = list(output.rglob("*.tsv"))
    for path in files:
        timeline = tl.read_timeline(path, Granularity.DAYS)
        labels = sorted(timeline.rows)
        if timeline.header != ["date", "n"] or labels[0] != STARTS:
            raise SystemExit(f"{path} is not a whole timeline")
    leftovers = [p for p in output.rglob("*") if p.name.endswith(".tmp")]
    if leftovers:
        raise SystemExit(f"temp files left after SIGTERM: {leftovers}")
    return len(files)
