"""``python -m bench [SCENARIO...]``: measure the benchmark figures; one line each.

Scenarios: backfill, noop (with the daily run), planning, graphite, serve, cohorts
(default: all). Options:
``--rounds N`` interleaved backfill rounds, best of each kept (default 3).

The package is byte-compiled first, as an installed package would be (the
environment may set PYTHONDONTWRITEBYTECODE, which would otherwise make every
start-up compile the sources).
"""

from __future__ import annotations

import argparse
import compileall
import platform
import os
import sys
import time

from .common import REPO

SCENARIOS = ("backfill", "noop", "planning", "graphite", "serve", "cohorts")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", choices=[[], *SCENARIOS], metavar="SCENARIO",
                        help=f"any of {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved backfill rounds; the best of each is kept")
    args = parser.parse_args(argv)
    compileall.compile_dir(REPO / "reportupdater", quiet=1)
    print(f"# {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    started = time.monotonic()
    for name in args.scenarios or SCENARIOS:
        if name == "backfill":
            from . import backfill
            lines = backfill.measure(args.rounds)
        elif name == "noop":
            from . import noop
            lines = noop.measure() + noop.measure_daily()
        elif name == "cohorts":
            from . import cohorts
            lines = cohorts.measure()
        elif name == "planning":
            from . import planning
            lines = planning.measure()
        elif name == "graphite":
            from . import graphite
            lines = graphite.measure()
        else:
            from . import serve
            lines = serve.measure()
        for line in lines:
            print(line, flush=True)
    print(f"# done in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
