"""reportupdater: scheduled report generation into TSV timelines.

A query folder holds query templates (SQL, HiveQL) or scripts and a
``config.yaml``. Each run works out which intervals of which reports are
missing, executes them, merges the results into TSV files and hands what it
wrote to its sinks (Graphite, StatsD, the state file, a progress bar).

Use it as a library::

    import reportupdater as ru
    config = ru.load_config("queries", config_path="config.yaml")
    summary = ru.run(config, "output", sinks=[])

Names are imported on first use, so ``import reportupdater`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "1.0.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "load_config": "api", "run": "api", "plan": "api", "render": "api",
    "status": "api", "validate": "api", "push": "api",
    "Config": "config", "Problem": "config", "ReportConfig": "config",
    "RunSummary": "summary", "Failure": "summary", "Published": "summary",
    "ReportStatus": "statuses", "Sink": "sinks",
    "GraphiteSink": "publish.graphite", "StatsdSink": "publish.statsd",
    "StateRecorder": "publish.state", "ProgressBar": "publish.progress",
    "ReportUpdaterError": "errors", "ConfigError": "errors", "TemplateError": "errors",
    "ExecutionError": "errors", "ResultError": "errors", "TimelineError": "errors",
    "RerunError": "errors", "LockHeldError": "errors", "RunStuckError": "errors",
    "UsageError": "errors", "MissingExplodeValues": "errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from .api import load_config, plan, push, render, run, status, validate  # noqa: F401
    from .config import Config, Problem, ReportConfig  # noqa: F401
    from .errors import (ConfigError, ExecutionError, LockHeldError,  # noqa: F401
                         MissingExplodeValues, RerunError, ReportUpdaterError, ResultError,
                         RunStuckError, TemplateError, TimelineError, UsageError)
    from .publish.graphite import GraphiteSink  # noqa: F401
    from .publish.progress import ProgressBar  # noqa: F401
    from .publish.state import StateRecorder  # noqa: F401
    from .publish.statsd import StatsdSink  # noqa: F401
    from .sinks import Sink  # noqa: F401
    from .statuses import ReportStatus  # noqa: F401
    from .summary import Failure, Published, RunSummary  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reportupdater' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
