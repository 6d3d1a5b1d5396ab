"""The ``script`` engine: run an executable that prints a TSV.

The script gets ``start_date end_date <explode values sorted by placeholder>
<its folder>`` as in the original reportupdater, and writes a header row and
data rows, tab-separated, to stdout. A non-zero exit, a timeout or output
without a header is a failure. stderr goes to the log.
"""

from __future__ import annotations

import csv
import logging
import os
import signal
import subprocess
import threading
from typing import Hashable, Mapping

from ..config import Config, ReportConfig
from ..errors import ExecutionError
from . import Query, Table

log = logging.getLogger(__name__)


def run_process(argv: list[str], timeout: float | None, what: str,
                env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Run ``argv``; return (stdout, stderr). A non-zero exit is an ExecutionError."""
    code, out, err = spawn(argv, timeout, what, env=env)
    if code != 0:
        last = err.strip().splitlines()[-1:] or ["(no stderr)"]
        reason = (f"was killed by signal {-code}" if code < 0
                  else f"exited with status {code}")
        raise ExecutionError(f"{what} {reason}: {last[0]}")
    return out, err


def spawn(argv: list[str], timeout: float | None, what: str,
          env: Mapping[str, str] | None = None, hint: str = "") -> tuple[int, str, str]:
    """Run ``argv`` in its own process group; return (exit status, stdout, stderr).

    On timeout the whole process tree is killed. Raises ExecutionError on a
    timeout or a program that cannot start (``hint`` says what to do then).
    """
    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   env=dict(env) if env is not None else None)
    except OSError as e:
        raise ExecutionError(f"{what} cannot start: {e.strerror or e}{hint}") from e
    with _running_lock:
        _running.add(process)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        _kill_group(process)
        process.communicate()
        raise ExecutionError(f"{what} timed out after {timeout:g} s and was killed") from e
    except BaseException:
        _kill_group(process)
        process.communicate()
        raise
    finally:
        with _running_lock:
            _running.discard(process)
    return (process.returncode, stdout.decode("utf-8", errors="replace"),
            stderr.decode("utf-8", errors="replace"))


# Processes spawn() waits for, so that an interrupted run can stop them: they
# run in their own sessions, out of reach of the terminal's Ctrl-C.
_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


def stop_all() -> None:
    """Kill every process tree spawn() is waiting for (the run is being interrupted)."""
    with _running_lock:
        processes = list(_running)
    for process in processes:
        _kill_group(process)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def parse_tsv(text: str, what: str) -> Table:
    """A header line and tab-separated rows; empty values become None."""
    reader = csv.reader(text.splitlines(), delimiter="\t")
    try:
        header = next(reader)
    except StopIteration:
        raise ExecutionError(f"{what} printed nothing; a header row was expected") from None
    except csv.Error as e:
        raise ExecutionError(f"{what} printed output that is not TSV: {e}") from e
    rows = []
    try:
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise ExecutionError(
                    f"{what} printed {len(row)} fields on line {number} but its header has "
                    f"{len(header)} ({', '.join(header)})")
            rows.append(tuple(value if value != "" else None for value in row))
    except csv.Error as e:
        raise ExecutionError(f"{what} printed output that is not TSV: {e}") from e
    return Table(header=header, rows=rows)


class ScriptEngine:
    """Runs a report's script once per interval; nothing to pool."""

    healthy = True

    @staticmethod
    def pool_key(config: Config, report: ReportConfig,
                 explode: Mapping[str, str]) -> tuple[Hashable, int | None]:
        return "script", None

    @staticmethod
    def open(config: Config, report: ReportConfig, explode: Mapping[str, str]) -> "ScriptEngine":
        return ScriptEngine()

    def run(self, query: Query) -> Table:
        what = f"script {query.report.template.path.name}"
        stdout, stderr = run_process(list(query.argv), query.report.timeout, what)
        for line in stderr.splitlines():
            if line.strip():
                log.info("%s (%s) stderr: %s", query.report.key, query.interval, line)
        return parse_tsv(stdout, what)

    @staticmethod
    def interrupt() -> None:
        """Kill the scripts running (from another thread: the run is stopping)."""
        stop_all()

    def close(self) -> None:
        pass
