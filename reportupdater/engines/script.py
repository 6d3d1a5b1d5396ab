"""The ``script`` engine: run an executable that prints a TSV.

The script gets ``start_date end_date <explode values sorted by placeholder>
<its folder>`` as in the original reportupdater, and writes a header row and
data rows, tab-separated, to stdout. A non-zero exit, a timeout, or output
that is not a UTF-8 TSV with a header (see ``output``) is a failure, and
nothing is recorded. stderr goes to the log.
"""

from __future__ import annotations

import logging
from typing import Hashable, Mapping

from ..config import Config, ReportConfig
from ..errors import ExecutionError
from . import Query, Table
from .output import check_header, decode, split_lines
from .process import spawn, stop_all

log = logging.getLogger(__name__)


def run_process(argv: list[str], timeout: float | None, what: str,
                env: Mapping[str, str] | None = None) -> tuple[bytes, str]:
    """Run ``argv``; return (stdout, stderr). A non-zero exit is an ExecutionError."""
    code, out, err = spawn(argv, timeout, what, env=env)
    if code != 0:
        last = err.strip().splitlines()[-1:] or ["(no stderr)"]
        reason = (f"was killed by signal {-code}" if code < 0
                  else f"exited with status {code}")
        raise ExecutionError(f"{what} {reason}: {last[0]}")
    return out, err


def parse_tsv(data: bytes, what: str) -> Table:
    """A header line and tab-separated rows; empty values become None.

    Fields are taken literally: a quote is a character like any other.
    """
    lines = split_lines(decode(data, what))
    if not lines:
        raise ExecutionError(f"{what} printed nothing; a header row was expected")
    header = lines[0].split("\t")
    check_header(header, lines[0], what)
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        row = line.split("\t")
        if len(row) != len(header):
            raise ExecutionError(
                f"{what} printed {len(row)} fields on line {number} but its header has "
                f"{len(header)} ({', '.join(header)})")
        rows.append(tuple(value if value != "" else None for value in row))
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
