"""Rows and queries shared by the agreement tests: the same rows go into a real
engine and into fixture files, and the same query runs on both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping


def write_jsonl(path: Path, rows: Iterable[Mapping]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def compare_runs(run_cli, folder: Path, fixtures: Path, report: str, *args: str) -> str:
    """Run ``try`` on the real engine and on the fixtures; return the TSV both gave."""
    real = run_cli("try", folder, report, "--from", "2026-10-01", "--until", "2026-10-03",
                   *args)
    assert real.code == 0, real.err
    local = run_cli("try", folder, report, "--from", "2026-10-01", "--until", "2026-10-03",
                    "--fixtures", fixtures, *args)
    assert local.code == 0, local.err
    assert local.out == real.out, f"local:\n{local.out}\nreal:\n{real.out}"
    assert len(real.out.splitlines()) > 2, real.out  # not vacuous: rows on both days
    return real.out
