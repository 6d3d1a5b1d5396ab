"""The library: what a notebook, a test, an Airflow task or the CLI calls.

``load_config`` reads and checks a query folder's config; ``run`` runs it
with the sinks it is given and returns a ``RunSummary``; ``plan`` lists what
a run would execute; ``render`` gives the text a run would execute for one
interval; ``status`` says how far each report is; ``validate`` lists every
problem of a query folder; ``push`` re-sends history to Graphite. Errors are
the named exceptions of ``reportupdater.errors``. Nothing here prints.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from . import config as _config
from .config import Config, Problem
from .errors import UsageError
from .lock import run_lock
from .pipeline import RunOptions, run as _run
from .planning import Plan, check_report_names
from .rendering import render
from .summary import RunSummary, utcnow

if TYPE_CHECKING:  # the status, validate and push machinery loads when called
    from .publish.push import PushResult
    from .statuses import Statuses

__all__ = ["load_config", "run", "plan", "render", "status", "validate", "push"]

DEFAULT_JOBS = 4

PathLike = str | Path


def load_config(query_folder: PathLike, config_path: PathLike | None = None) -> Config:
    """Read and check the config of ``query_folder`` (default file: its
    ``config.yaml``, else ``./config.yaml``). ``config.problems`` lists every
    warning and error; a report with an error is left out of ``config.reports``.

    Raises UsageError if the folder does not exist, ConfigError if the config
    can't be used at all.
    """
    folder = Path(query_folder)
    if not folder.is_dir():
        raise UsageError(f"query folder {str(query_folder)!r} does not exist or is not "
                         "a folder")
    return _config.load_config(folder, Path(config_path) if config_path else None)


def run(config: Config, output_folder: PathLike, *, now: dt.datetime | None = None,
        reports: Sequence[str] = (), jobs: int | None = None, sinks: Sequence[object] = (),
        lock: bool = True, **options: object) -> RunSummary:
    """Compute every missing interval of ``reports`` (default: all) into the TSV
    timelines in ``output_folder``, and hand what was written to ``sinks``, in
    order (``publish.graphite.GraphiteSink``, ``publish.statsd.StatsdSink``,
    ``publish.state.StateRecorder``, ``publish.progress.ProgressBar``...).

    ``now`` defaults to the clock (UTC), ``jobs`` to the config's, else 4.
    ``options`` are further ``RunOptions``: ``start`` and ``until`` (only the
    intervals in that window, touching no row outside it), ``rebuild`` (set
    aside a timeline written for another granularity and recompute it),
    ``max_run_seconds`` (default: the config's), ``checkpoint_seconds``. With ``lock`` (the default)
    the query folder's lock is taken for the run: raises LockHeldError if
    another run holds it, RunStuckError if it has held it too long. Raises UsageError for an
    unknown report or a bad option; KeyboardInterrupt, after committing what
    finished, on Ctrl-C or SIGTERM.
    """
    check_report_names(config, reports)
    jobs = jobs if jobs is not None else config.jobs or DEFAULT_JOBS
    if jobs < 1:
        raise UsageError(f"jobs must be at least 1, not {jobs}")
    try:
        run_options = RunOptions(output_folder=Path(output_folder), now=now or utcnow(),
                                 reports=tuple(reports), jobs=jobs, **options)
    except TypeError as e:
        raise UsageError(f"unknown run option: {e}") from e
    with run_lock(config.query_folder, config.max_run_seconds) if lock else nullcontext():
        return _run(config, run_options, sinks)


def plan(config: Config, output_folder: PathLike, *, now: dt.datetime | None = None,
         reports: Sequence[str] = (), start: dt.datetime | None = None,
         until: dt.datetime | None = None) -> Plan:
    """What a run would execute now (in the window ``[start, until)`` if given):
    iterate ``plan(...).intervals()``; timelines that can't be read are logged and
    kept in ``failures``. Connects nowhere, writes nothing."""
    return Plan(config, Path(output_folder), now or utcnow(), reports, start=start,
                until=until)


def status(config: Config, output_folder: PathLike, *, now: dt.datetime | None = None
           ) -> Statuses:
    """How far each report is (a ``ReportStatus`` per report key, in config order),
    and its last failure; ``state_error`` says if the state file can't be read."""
    from .statuses import status as _status

    return _status(config, Path(output_folder), now)


def validate(config: Config) -> list[Problem]:
    """Every problem of the query folder, in file order: the config's, a trial
    render of each query, credential files, rerun requests."""
    from .validation import validate as _validate

    return _validate(config)


def push(config: Config, output_folder: PathLike, *, reports: Sequence[str] = (),
         since: dt.datetime | None = None, until: dt.datetime | None = None) -> PushResult:
    """Re-send the points of the TSVs in ``output_folder`` to Graphite (the outbox
    first), for rows whose interval starts in ``[since, until)``."""
    from .publish.push import push as _push

    return _push(config, Path(output_folder), reports, since, until)

