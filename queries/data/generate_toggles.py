#!/usr/bin/env python3
"""Regenerate the demo's event files, deterministically.

They imitate the cluster's partitioned event tables: one CSV per day under
``toggles/year=YYYY/month=M/day=D/``, one row per syntax-highlighting toggle
(wiki, editor, enabled, the user's edit-count bucket). Run it from anywhere;
the same seed always writes the same bytes.
"""

import csv
import datetime as dt
import random
import shutil
from pathlib import Path

FIRST_DAY = dt.date(2026, 8, 1)
DAYS = 92
WIKIS = {"enwiki": 30, "dewiki": 12, "eswiki": 8}  # mean toggles per day
EDITORS = ("wikitext_2010", "wikitext_2017")
BUCKETS = ("0 edits", "1-4 edits", "5-99 edits", "100-999 edits", "1000+ edits")


def main() -> None:
    root = Path(__file__).resolve().parent / "toggles"
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(20260801)
    for offset in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=offset)
        folder = root / f"year={day.year}" / f"month={day.month}" / f"day={day.day}"
        folder.mkdir(parents=True)
        rows = []
        for wiki, mean in WIKIS.items():
            weekend = 0.6 if day.weekday() >= 5 else 1.0
            for _ in range(max(0, int(rng.gauss(mean * weekend, mean / 4)))):
                moment = dt.datetime.combine(day, dt.time()) + dt.timedelta(
                    seconds=rng.randrange(86400))
                rows.append((moment.strftime("%Y-%m-%d %H:%M:%S"), wiki,
                             rng.choices(EDITORS, (3, 1))[0],
                             "true" if rng.random() < 0.7 else "false",
                             rng.choices(BUCKETS, (2, 3, 4, 2, 1))[0]))
        rows.sort()
        with open(folder / "toggles.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(("dt", "wiki", "editor", "enabled", "user_edit_count_bucket"))
            writer.writerows(rows)


if __name__ == "__main__":
    main()
