"""``run --dry-run``: list the intervals a run would execute.

It reads the timelines' dates and the rerun requests, and nothing else: it
connects nowhere and writes nothing.
"""

from __future__ import annotations

from typing import Iterator

from .config import Config
from .intervals import Interval
from .pipeline import Runner, RunOptions


def planned_intervals(config: Config, options: RunOptions
                      ) -> Iterator[tuple[str, dict[str, str], Interval]]:
    runner = Runner(config, options)
    for job in runner.timelines():
        for interval in job.due:
            yield job.report.key, dict(job.explode), interval


def print_plan(config: Config, options: RunOptions) -> int:
    count = 0
    for report, explode, interval in planned_intervals(config, options):
        values = " ".join(f"{k}={v}" for k, v in explode.items())
        fmt = interval.granularity.date_format
        print("\t".join([report, values, interval.start.strftime(fmt),
                         interval.end.strftime(fmt)]))
        count += 1
    import sys
    print(f"{count} interval(s) would execute", file=sys.stderr)
    return 0
