"""No-op run: 900 exploded TSVs x 3,652 daily rows, all complete, nothing due.

Target: under 1 s of wall time in total, process start included, and
under 150 MB peak RSS. The first run after the files appear builds the triage
cache; the hourly runs after it are the figure. Both are printed.
"""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

from reportupdater.triage import CACHE_NAME  # in the query folder

from .common import WORK, built, figure, fresh_dir, mark_built, run_measured

WIKIS = 900
FIRST = dt.date(2016, 11, 1)
NOW = "2026-11-01"  # 2016-11-01 .. 2026-10-31 is 3,652 days


def wiki_names(count: int) -> list[str]:
    return [f"w{n:03d}wiki" for n in range(count)]


def build(folder: Path = WORK / "noop", wikis: int = WIKIS) -> tuple[Path, Path]:
    """The query folder and the output folder, complete up to NOW."""
    params = {"wikis": wikis, "first": str(FIRST), "now": NOW, "version": 1}
    queries, output = folder / "queries", folder / "output"
    if built(folder, params):
        return queries, output
    fresh_dir(folder)
    queries.mkdir()
    names = wiki_names(wikis)
    (queries / "wikis.txt").write_text("\n".join(names) + "\n")
    (queries / "config.yaml").write_text(textwrap.dedent(f"""\
        databases:
            bench: {{host: 127.0.0.1, port: 3306, db: ru_bench}}
        reports:
            daily_by_wiki:
                db: bench
                granularity: days
                starts: {FIRST}
                explode_by: {{wiki: wikis.txt}}
        """))
    (queries / "daily_by_wiki.sql").write_text(
        "SELECT DATE('{from_date}') AS date, COUNT(*) AS events,\n"
        "       COUNT(DISTINCT user_id) AS users\n"
        "FROM events WHERE wiki = '{wiki}'\n"
        "  AND ts >= '{from_timestamp}' AND ts < '{to_timestamp}'\n")
    end = dt.date.fromisoformat(NOW)
    labels = [str(FIRST + dt.timedelta(days=d)) for d in range((end - FIRST).days)]
    assert len(labels) == 3652
    target = output / "daily_by_wiki"
    target.mkdir(parents=True)
    for w, name in enumerate(names):
        lines = ["date\tevents\tusers\n"]
        lines += [f"{label}\t{(d * 37 + w * 11) % 5000}\t{(d * 7 + w) % 300}\n"
                  for d, label in enumerate(labels)]
        (target / f"{name}.tsv").write_text("".join(lines))
    mark_built(folder, params)
    return queries, output


def measure() -> list[str]:
    queries, output = build()
    args = ["run", str(queries), str(output), "--now", NOW, "--no-graphite"]
    (queries / CACHE_NAME).unlink(missing_ok=True)
    cold = run_measured(args)
    _check(cold)
    warm = [run_measured(args) for _ in range(5)]
    for run in warm:
        _check(run)
    best = min(warm, key=lambda m: m.seconds)
    peak = max(m.peak_rss_mb for m in warm + [cold])
    return [
        figure(f"no-op, {WIKIS} TSVs x 3,652 rows: wall, process start included",
               f"{best.seconds:.3f} s", best.seconds / 1.0, "target", "< 1 s",
               best.seconds < 1.0),
        figure("no-op: peak RSS", f"{peak:.0f} MB", peak / 150, "target", "< 150 MB",
               peak < 150),
        figure("no-op, its first run (no triage cache yet): wall",
               f"{cold.seconds:.3f} s", cold.seconds / 1.0, "1 s"),
    ]


def measure_daily() -> list[str]:
    """The run once a day: each of the 900 files gets one new row (not a target).

    The first day the files are not yet as this tool writes them, so each is
    parsed and rewritten; from then on new rows are appended to the bytes.
    """
    from .backfill import build_database

    build_database()  # the daily run's queries read the backfill's events
    queries, output = build()
    daily = fresh_dir(WORK / "daily")
    shutil.copytree(queries, daily / "queries")
    shutil.copytree(output, daily / "output")
    (daily / "queries" / CACHE_NAME).unlink(missing_ok=True)
    lines = []
    for day, what in (("2026-11-02", "first day: parse, merge, rewrite"),
                      ("2026-11-03", "later days: append")):
        run = run_measured(["run", str(daily / "queries"), str(daily / "output"),
                            "--now", day, "--no-graphite"])
        if run.returncode != 0 or f"{WIKIS} interval(s) executed" not in run.stderr:
            raise SystemExit(f"the daily run failed ({run.returncode}):\n{run.stderr}")
        lines.append(figure(f"daily run, 900 TSVs + 1 row each ({what})",
                            f"{run.seconds:.2f} s"))
    return lines


def _check(run) -> None:
    if run.returncode != 0:
        raise SystemExit(f"no-op run failed ({run.returncode}):\n{run.stderr}")
    if "0 interval(s) executed" not in run.stderr:
        raise SystemExit(f"the no-op run executed something:\n{run.stderr}")
