"""Read and validate a query folder's config, once, into a frozen ``Config``.

Input: the path of a ``config.yaml`` (keys as in the original reportupdater)
and its query folder. Output: a ``Config`` holding one ``ReportConfig`` per
usable report, plus every ``Problem`` found. A report with an error is left
out of ``Config.reports`` (the others still run); a config that cannot be read
at all raises ``ConfigError``. Every problem names the file, the report, the
key and the bad value, and the YAML line where the parser gives one.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from ..errors import ConfigError
from .model import DEFAULT_MAX_RUN_SECONDS, Config
from .problems import Collector
from .cohorts import read_cohorts
from .report import Context, read_report
from .sections import DEFAULTS, TOP_LEVEL
from .services import read_databases, read_graphite, read_statsd
from .source import KeyLines, SourceError, load_yaml, read_text


def find_config_path(query_folder: Path, config_path: Path | None = None) -> Path:
    """``--config-path``, else ``<query folder>/config.yaml``, else ``./config.yaml``."""
    if config_path is not None:
        return config_path
    in_folder = query_folder / "config.yaml"
    if in_folder.exists():
        return in_folder
    return Path("config.yaml")


def load_config(query_folder: Path, config_path: Path | None = None) -> Config:
    """Read and validate a config. Raises ConfigError if it is unusable."""
    query_folder = Path(query_folder)
    path = find_config_path(query_folder, config_path)
    raw, lines = _read(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a mapping with a 'reports' key, "
                          f"not {type(raw).__name__}")
    if "reports" not in raw:
        raise ConfigError(f"{path}: the config has no 'reports' key")
    if not isinstance(raw["reports"], dict):
        raise ConfigError(f"{path}: 'reports' must be a mapping of report names to "
                          f"settings, not {type(raw['reports']).__name__}")
    return _build(raw, path, query_folder, Collector(path, lines))


def _read(path: Path) -> tuple[object, KeyLines]:
    try:
        text = read_text(path)
    except SourceError as e:
        if e.os_error:
            raise ConfigError(f"Cannot read the config file {path}: {e.message}. "
                              "Pass --config-path or put config.yaml in the query "
                              "folder.") from e
        where = f"{path}:{e.line}" if e.line else str(path)
        raise ConfigError(f"{where}: the config cannot be read: {e.message}") from e
    try:
        return load_yaml(text)
    except SourceError as e:
        where = f"{path}:{e.line}" if e.line else str(path)
        raise ConfigError(f"{where}: the config is not valid YAML: {e.message}") from e


def _build(raw: dict, path: Path, query_folder: Path, c: Collector) -> Config:
    TOP_LEVEL.warn_unknown(raw, c.sink(()))
    top, _ = TOP_LEVEL.read(raw, c.sink(()))
    defaults = top["defaults"] or {}
    DEFAULTS.warn_unknown(defaults, c.sink(("defaults",)))
    databases = read_databases(top["databases"] or {}, query_folder, c)
    graphite = read_graphite(top["graphite"], query_folder, c)
    statsd = read_statsd(top["statsd"], c)
    cohorts = read_cohorts(top["cohorts"] or {}, databases, query_folder, c)
    alerting = None
    if top["alerting"] is not None:
        from ..alerts.settings import read_alerting

        alerting = read_alerting(top["alerting"], lambda message, path, severity: c.add(
            message, path=("alerting", *path), severity=severity), query_folder)
    if "alerts" in defaults:
        c.add("alerts belong to a report, not to defaults (a rule names the report's "
              "columns)", path=("defaults", "alerts"))
    context = Context(defaults=defaults, databases=databases, graphite=graphite,
                      top_hive=top["hive"] or {}, query_folder=query_folder,
                      cohorts=cohorts)
    reports = []
    for key, settings in raw["reports"].items():
        report = read_report(str(key), settings, context, c)
        if report is not None:
            reports.append(report)
    return Config(path=path, query_folder=query_folder, reports=tuple(reports),
                  databases=MappingProxyType(databases), graphite=graphite, statsd=statsd,
                  jobs=top["jobs"], max_run_seconds=top["max_run_seconds"] or DEFAULT_MAX_RUN_SECONDS,
                  alerting=alerting,
                  problems=tuple(c.problems),
                  report_keys=tuple(str(k) for k in raw["reports"]),
                  cohorts=MappingProxyType(cohorts))
