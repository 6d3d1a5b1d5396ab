"""Shared helpers: where scenarios live, running the CLI, measuring a child."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / "work"
CLI = [sys.executable, "-m", "reportupdater"]
if (Path(sys.executable).parent / "reportupdater").exists():
    CLI = [str(Path(sys.executable).parent / "reportupdater")]  # as cron runs it

MARIADB = dict(host=os.environ.get("RU_TEST_MYSQL_HOST", "127.0.0.1"),
               port=int(os.environ.get("RU_TEST_MYSQL_PORT", "3306")), user="root",
               password="")


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stderr: str


def run_measured(args: list[str], timeout: float = 600) -> Measured:
    """Run the CLI with ``args``; its wall time (process start included) and peak RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(CLI + args, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    stderr = process.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(seconds, usage.ru_maxrss / 1024, process.returncode, stderr)


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def built(folder: Path, params: dict) -> bool:
    """Whether ``folder`` already holds the scenario built with ``params``."""
    stamp = folder / ".built"
    return stamp.exists() and stamp.read_text() == _digest(params)


def mark_built(folder: Path, params: dict) -> None:
    (folder / ".built").write_text(_digest(params))


def _digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def figure(name: str, value: str, ratio: float | None = None, of: str = "",
           target: str = "", ok: bool | None = None) -> str:
    """One output line: the figure, its value, its ratio, the target and the verdict."""
    line = f"{name:<66} {value:>10}"
    if ratio is not None:
        line += f"   {ratio:5.2f} x {of:<8}"
    if target:
        line += f"   target {target:<12} {'ok' if ok else 'MISSED'}"
    return line.rstrip()
