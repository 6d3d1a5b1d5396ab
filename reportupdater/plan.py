"""``run --dry-run``: list the intervals a run would execute.

Input: a config and the run options. Output on stdout: one line per interval,
tab-separated: report, explode values (``NAME=VALUE``, space-separated, empty
when the report does not explode), start and end; then a count per report on
stderr. It reads the timelines' dates and the rerun requests, and nothing
else: it connects nowhere, executes nothing and writes nothing (no lock, no
output folder, no state file).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Iterator, Mapping

from .cli import EXIT_FAILED, EXIT_OK
from .config import Config
from .intervals import Interval
from .pipeline import Runner, RunOptions


@dataclass(frozen=True)
class PlannedInterval:
    report: str
    explode: Mapping[str, str]
    interval: Interval

    def line(self) -> str:
        fmt = self.interval.granularity.date_format
        values = " ".join(f"{k}={v}" for k, v in self.explode.items())
        return "\t".join([self.report, values, self.interval.start.strftime(fmt),
                          self.interval.end.strftime(fmt)])


def planned_intervals(config: Config, options: RunOptions, runner: Runner | None = None
                      ) -> Iterator[PlannedInterval]:
    """Every interval a run would execute, in the run's order (lazily).

    Timelines that cannot be read are recorded in ``runner.summary.failures``.
    """
    runner = runner or Runner(config, options)
    for job in runner.timelines():
        for interval in job.due:
            yield PlannedInterval(job.report.key, dict(job.explode), interval)


def print_plan(config: Config, options: RunOptions) -> int:
    """Print the plan; 1 if a timeline can't be read or a report has config errors."""
    runner = Runner(config, options)
    per_report: dict[str, int] = {}
    try:
        for planned in planned_intervals(config, options, runner):
            print(planned.line())
            per_report[planned.report] = per_report.get(planned.report, 0) + 1
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) has what it wanted; don't die on the next write.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    total = sum(per_report.values())
    counts = ", ".join(f"{report} {count}" for report, count in per_report.items())
    print(f"{total} interval(s) would execute" + (f": {counts}" if counts else ""),
          file=sys.stderr)
    return EXIT_FAILED if runner.summary.failures or config.errors else EXIT_OK
