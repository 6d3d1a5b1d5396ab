"""Read and validate a query folder's config, once, into frozen dataclasses.

Input: the path of a ``config.yaml`` (keys as in the original reportupdater)
and its query folder. Output: a ``Config`` holding one ``ReportConfig`` per
usable report, plus every ``Problem`` found. A report with an error is left
out of ``Config.reports`` (the others still run); a config that cannot be read
at all raises ``ConfigError``. Every problem names the file, the report, the
key and the bad value, and the YAML line where the parser gives one.
"""

from __future__ import annotations

import datetime as dt
import grp
import itertools
import os
import shlex
import string
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping

import yaml

from .alerts.settings import (AlertingSettings, AlertRule, read_alerting, read_description,
                              read_owner, read_rules, read_ticket)
from .errors import ConfigError
from .intervals import Granularity, as_datetime

REPORT_TYPES = ("sql", "hive", "script")
TOP_LEVEL_KEYS = {"reports", "defaults", "databases", "graphite", "hive", "statsd", "jobs",
                  "max_run_seconds", "alerting"}
DEFAULT_MAX_RUN_SECONDS = 6 * 3600
REPORT_KEYS = {"type", "granularity", "starts", "lag", "execute", "db", "explode_by",
               "max_data_points", "group", "graphite", "funnel", "timeout", "hive",
               "description", "dialect", "owner", "ticket", "ends", "alerts"}
# SQL dialects a query can be written in, for local runs (sqlglot's names).
DIALECTS = ("mysql", "hive", "spark", "duckdb", "trino", "presto", "postgres", "sqlite")
DATABASE_KEYS = {"engine", "host", "port", "db", "creds_file", "path",
                 "auto_find_db_shard", "wiki_db_placeholder", "mw_config_path",
                 "use_x1", "shards", "domain", "max_connections"}
DATABASE_ENGINES = ("mysql", "duckdb")
GRAPHITE_KEYS = {"host", "port", "lookups", "protocol", "prefix", "timeout", "retries",
                 "batch_size"}
GRAPHITE_PROTOCOLS = ("plaintext", "pickle")
STATSD_KEYS = {"host", "port", "prefix"}
HIVE_KEYS = {"backend", "command", "host", "port", "auth", "kerberos_service_name",
             "username", "password_file", "database", "configuration", "max_concurrency"}
HIVE_BACKENDS = ("cli", "hiveserver2")
HIVE_AUTHS = ("NONE", "NOSASL", "LDAP", "KERBEROS")
# The Hive CLI prints no header unless told to; the first line must be the header.
DEFAULT_HIVE_COMMAND = ("hive", "--hiveconf", "hive.cli.print.header=true", "-e", "{query}")
HIVE_QUERY_PLACEHOLDERS = ("{query}", "{query_file}")

# Variables every template gets (explode placeholders come on top).
TEMPLATE_VARIABLES = ("from_timestamp", "to_timestamp", "from_date", "to_date",
                      "year", "month", "day", "hour")
JINJA_EXTRA_VARIABLES = ("start", "end", "granularity", "report", "explode")

# A value that becomes a file name and is pasted into queries.
_FORBIDDEN_IN_VALUES = ("/", "\\", "'", '"', "`")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config; ``severity`` is "error" or "warning"."""

    file: str
    message: str
    report: str | None = None
    key: str | None = None
    line: int | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        parts = [where]
        if self.report:
            parts.append(f"report {self.report!r}")
        if self.key:
            parts.append(f"key {self.key!r}")
        return f"{', '.join(parts)}: {self.message}"


@dataclass(frozen=True)
class Template:
    """A report's executable: a query template or a script."""

    path: Path
    kind: str  # "format" (str.format), "jinja" or "script"
    language: str  # "sql", "hive" or "script"
    text: str = ""


@dataclass(frozen=True)
class ReportGraphite:
    """Per report: the metric path template and metric name -> column."""

    path: str
    metrics: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class HiveSettings:
    """How a ``type: hive`` report reaches Hive: top-level ``hive:`` merged with the report's."""

    backend: str = "cli"
    command: tuple[str, ...] = DEFAULT_HIVE_COMMAND  # cli: one arg holds {query} or {query_file}
    host: str | None = None
    port: int = 10000
    auth: str = "NONE"
    kerberos_service_name: str | None = None  # "hive" when auth is KERBEROS
    username: str | None = None
    password_file: Path | None = None  # LDAP only
    database: str = "default"
    configuration: tuple[tuple[str, str], ...] = ()  # session settings, sorted
    max_concurrency: int = 2

    @property
    def backend_key(self) -> tuple:
        """What makes two reports share connections (everything but the limit)."""
        if self.backend == "cli":
            return ("cli", self.command)
        return ("hiveserver2", self.host, self.port, self.auth, self.kerberos_service_name,
                self.username, self.password_file, self.database, self.configuration)


@dataclass(frozen=True)
class ReportConfig:
    key: str
    type: str
    granularity: Granularity
    starts: dt.datetime
    lag: int
    execute: str
    template: Template
    db: str | None = None
    explode_by: tuple[tuple[str, tuple[str, ...]], ...] = ()
    max_data_points: int | None = None
    group: str | None = None
    graphite: ReportGraphite | None = None
    timeout: float | None = None
    hive: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    hive_settings: HiveSettings | None = None  # type: hive reports only
    dialect: str | None = None  # the query's SQL dialect for local runs (None: by engine)
    owner: tuple[str, ...] = ()  # email addresses
    description: str | None = None
    ticket: str | None = None  # a URL
    ends: dt.datetime | None = None  # intervals starting on or after it are not computed
    alerts: tuple[AlertRule, ...] = ()

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.explode_by)

    def explode_combinations(self) -> Iterator[dict[str, str]]:
        """Every combination of explode values, in output path order."""
        names = self.placeholders
        for values in itertools.product(*(vals for _, vals in self.explode_by)):
            yield dict(zip(names, values))

    def combination_count(self) -> int:
        count = 1
        for _, values in self.explode_by:
            count *= len(values)
        return count

    def timeline_path(self, output_folder: Path, explode: Mapping[str, str]) -> Path:
        """``<output>/<report>.tsv`` or ``<output>/<report>/<v1>/.../<vN>.tsv``."""
        if not self.explode_by:
            return output_folder / f"{self.key}.tsv"
        values = [explode[name] for name in self.placeholders]
        return output_folder.joinpath(self.key, *values[:-1], values[-1] + ".tsv")


@dataclass(frozen=True)
class DatabaseConfig:
    key: str
    engine: str = "mysql"
    host: str | None = None
    port: int = 3306
    db: str | None = None
    creds_file: str | None = None
    path: str | None = None
    auto_find_db_shard: bool = False
    wiki_db_placeholder: str | None = None
    mw_config_path: str = "/srv/mediawiki-config"
    use_x1: bool = False
    shards: Mapping[str, tuple[str, int]] = field(default_factory=lambda: MappingProxyType({}))
    domain: str = "eqiad.wmnet"
    max_connections: int = 4


@dataclass(frozen=True)
class GraphiteConfig:
    host: str
    port: int = 2003
    protocol: str = "plaintext"
    prefix: str = ""
    lookups: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    timeout: float = 10.0
    retries: int = 3
    batch_size: int = 5000


@dataclass(frozen=True)
class StatsdConfig:
    host: str = "localhost"
    port: int = 8125
    prefix: str = "reportupdater"


@dataclass(frozen=True)
class Config:
    path: Path
    query_folder: Path
    reports: tuple[ReportConfig, ...]
    databases: Mapping[str, DatabaseConfig]
    graphite: GraphiteConfig | None = None
    statsd: StatsdConfig | None = None
    hive: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    jobs: int | None = None
    max_run_seconds: int = DEFAULT_MAX_RUN_SECONDS  # a run stops itself after this long
    alerting: AlertingSettings | None = None
    problems: tuple[Problem, ...] = ()
    report_keys: tuple[str, ...] = ()  # every key under `reports`, valid or not

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    def report(self, key: str) -> ReportConfig | None:
        for report in self.reports:
            if report.key == key:
                return report
        return None


def find_config_path(query_folder: Path, config_path: Path | None = None) -> Path:
    """``--config-path``, else ``<query folder>/config.yaml``, else ``./config.yaml``."""
    if config_path is not None:
        return config_path
    in_folder = query_folder / "config.yaml"
    if in_folder.exists():
        return in_folder
    return Path("config.yaml")


def check_explode_value(value: str) -> str | None:
    """Why ``value`` cannot be an explode value, or None if it can."""
    if value == "":
        return "it is empty"
    if value in (".", "..") or ".." in value:
        return "it contains '..'"
    for char in _FORBIDDEN_IN_VALUES:
        if char in value:
            return f"it contains {char!r}"
    for char in value:
        if ord(char) < 32 or ord(char) == 127:
            return f"it contains the control character {char!r}"
    return None


def _yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line numbers (1-based) of every mapping key, by key path."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key_path = path + (str(key_node.value),)
                lines[key_path] = key_node.start_mark.line + 1
                walk(value_node, key_path)
        elif isinstance(node, yaml.SequenceNode):  # items as "0", "1"...: alert rules
            for index, item in enumerate(node.value):
                lines[path + (str(index),)] = item.start_mark.line + 1
                walk(item, path + (str(index),))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


class _Collector:
    """Collects problems for one config file, with YAML line numbers."""

    def __init__(self, file: Path, lines: dict[tuple[str, ...], int]):
        self.file = str(file)
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, message: str, *, path: tuple[str, ...], report: str | None = None,
            severity: str = "error", key: str | None = None) -> None:
        line = None
        for depth in range(len(path), 0, -1):
            line = self.lines.get(path[:depth])
            if line:
                break
        key = key or ".".join(path[2:] if report else path) or None
        self.problems.append(Problem(self.file, message, report, key, line, severity))


def load_config(query_folder: Path, config_path: Path | None = None) -> Config:
    """Read and validate a config. Raises ConfigError if it is unusable."""
    query_folder = Path(query_folder)
    path = find_config_path(query_folder, config_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"Cannot read the config file {path}: {e.strerror or e}. "
                          "Pass --config-path or put config.yaml in the query folder.") from e
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: the config is not valid YAML: "
                          f"{getattr(e, 'problem', None) or e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a mapping with a 'reports' key, "
                          f"not {type(raw).__name__}")
    if "reports" not in raw:
        raise ConfigError(f"{path}: the config has no 'reports' key")
    if not isinstance(raw["reports"], dict):
        raise ConfigError(f"{path}: 'reports' must be a mapping of report names to "
                          f"settings, not {type(raw['reports']).__name__}")
    return _build(raw, path, query_folder, _Collector(path, _yaml_lines(text)))


def _build(raw: dict, path: Path, query_folder: Path, c: _Collector) -> Config:
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            c.add(f"unknown top-level key {key!r} (ignored; known keys: "
                  f"{', '.join(sorted(TOP_LEVEL_KEYS))})", path=(str(key),), severity="warning")

    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        c.add(f"'defaults' must be a mapping, not {defaults!r}", path=("defaults",))
        defaults = {}
    for key in defaults:
        if key not in REPORT_KEYS:
            c.add(f"unknown key {key!r} in defaults (ignored)", path=("defaults", str(key)),
                  severity="warning")

    databases = _databases(raw.get("databases"), query_folder, c)
    graphite = _graphite(raw.get("graphite"), query_folder, c)
    statsd = _statsd(raw.get("statsd"), c)
    hive = raw.get("hive") or {}
    if not isinstance(hive, dict):
        c.add(f"'hive' must be a mapping, not {hive!r}", path=("hive",))
        hive = {}
    jobs = raw.get("jobs")
    if jobs is not None and (type(jobs) is not int or jobs < 1):
        c.add(f"'jobs' must be a whole number >= 1, not {jobs!r}", path=("jobs",))
        jobs = None
    max_run_seconds = raw.get("max_run_seconds", DEFAULT_MAX_RUN_SECONDS)
    if type(max_run_seconds) is not int or max_run_seconds < 1:
        c.add(f"'max_run_seconds' must be a whole number of seconds >= 1, not "
              f"{max_run_seconds!r} (the default, {DEFAULT_MAX_RUN_SECONDS}, is used)",
              path=("max_run_seconds",))
        max_run_seconds = DEFAULT_MAX_RUN_SECONDS
    alerting = None
    if raw.get("alerting") is not None:
        alerting = read_alerting(raw["alerting"], lambda message, path, severity: c.add(
            message, path=("alerting", *path), severity=severity), query_folder)
    if "alerts" in defaults:
        c.add("alerts belong to a report, not to defaults (a rule names the report's "
              "columns)", path=("defaults", "alerts"))

    reports = []
    for key, settings in raw["reports"].items():
        report = _report(str(key), settings, defaults, databases, graphite, hive,
                         query_folder, c)
        if report is not None:
            reports.append(report)

    return Config(path=path, query_folder=query_folder, reports=tuple(reports),
                  databases=MappingProxyType(databases), graphite=graphite, statsd=statsd,
                  hive=MappingProxyType(dict(hive)), jobs=jobs,
                  max_run_seconds=max_run_seconds, alerting=alerting,
                  problems=tuple(c.problems),
                  report_keys=tuple(str(k) for k in raw["reports"]))


def _is_int(value: Any, minimum: int = 0) -> bool:
    return type(value) is int and value >= minimum


def _databases(raw: Any, query_folder: Path, c: _Collector) -> dict[str, DatabaseConfig]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        c.add(f"'databases' must be a mapping, not {raw!r}", path=("databases",))
        return {}
    result = {}
    for key, entry in raw.items():
        key = str(key)
        where = ("databases", key)
        if not isinstance(entry, dict):
            c.add(f"database {key!r} must be a mapping, not {entry!r}", path=where)
            continue
        before = len(c.problems)
        for k in entry:
            if k not in DATABASE_KEYS:
                c.add(f"unknown key {k!r} in database {key!r} (ignored)",
                      path=where + (str(k),), severity="warning")
        engine = entry.get("engine", "mysql")
        if engine not in DATABASE_ENGINES:
            c.add(f"database {key!r}: engine {engine!r} is not one of "
                  f"{', '.join(DATABASE_ENGINES)}", path=where + ("engine",))
        port = entry.get("port", 3306)
        if not _is_int(port, 1):
            c.add(f"database {key!r}: port must be a whole number, not {port!r}",
                  path=where + ("port",))
        max_connections = entry.get("max_connections", 4)
        if not _is_int(max_connections, 1):
            c.add(f"database {key!r}: max_connections must be a whole number >= 1, "
                  f"not {max_connections!r}", path=where + ("max_connections",))
        for k in ("host", "db", "creds_file", "path", "wiki_db_placeholder",
                  "mw_config_path", "domain"):
            if k in entry and not isinstance(entry[k], str):
                c.add(f"database {key!r}: {k} must be a string, not {entry[k]!r}",
                      path=where + (k,))
        auto = entry.get("auto_find_db_shard", False) is True
        shards: dict[str, tuple[str, int]] = {}
        if engine == "duckdb":
            pass  # path is optional: an in-memory database reads files itself
        elif auto:
            if "wiki_db_placeholder" not in entry and "db" not in entry:
                c.add(f"database {key!r}: auto_find_db_shard needs wiki_db_placeholder "
                      "(the explode placeholder holding the wiki database name)",
                      path=where + ("wiki_db_placeholder",))
            raw_shards = entry.get("shards") or {}
            if not isinstance(raw_shards, dict):
                c.add(f"database {key!r}: shards must map shard names to {{host, port}}, "
                      f"not {raw_shards!r}", path=where + ("shards",))
                raw_shards = {}
            for shard, spec in raw_shards.items():
                if (not isinstance(spec, dict) or not isinstance(spec.get("host"), str)
                        or not _is_int(spec.get("port", 3306), 1)):
                    c.add(f"database {key!r}: shard {shard!r} needs a host string and a "
                          f"port number, not {spec!r}", path=where + ("shards", str(shard)))
                    continue
                shards[str(shard)] = (spec["host"], spec.get("port", 3306))
        else:
            for k in ("host", "db"):
                if k not in entry:
                    c.add(f"database {key!r} has no {k!r} (needed unless "
                          "auto_find_db_shard is true)", path=where)
        if len(c.problems) > before and any(p.severity == "error" for p in c.problems[before:]):
            continue
        creds = entry.get("creds_file")
        path_value = entry.get("path")
        if path_value is not None and engine == "duckdb" and not os.path.isabs(path_value):
            path_value = str(query_folder / path_value)
        result[key] = DatabaseConfig(
            key=key, engine=engine, host=entry.get("host"), port=port, db=entry.get("db"),
            creds_file=creds, path=path_value, auto_find_db_shard=auto,
            wiki_db_placeholder=entry.get("wiki_db_placeholder"),
            mw_config_path=entry.get("mw_config_path", "/srv/mediawiki-config"),
            use_x1=entry.get("use_x1", False) is True,
            shards=MappingProxyType(shards), domain=entry.get("domain", "eqiad.wmnet"),
            max_connections=max_connections)
    return result


def _graphite(raw: Any, query_folder: Path, c: _Collector) -> GraphiteConfig | None:
    if raw is None:
        return None
    where = ("graphite",)
    if not isinstance(raw, dict):
        c.add(f"'graphite' must be a mapping with host and port, not {raw!r}", path=where)
        return None
    before = len(c.problems)
    for k in raw:
        if k not in GRAPHITE_KEYS:
            c.add(f"unknown key {k!r} in graphite (ignored)", path=where + (str(k),),
                  severity="warning")
    host = raw.get("host")
    if not isinstance(host, str) or not host:
        c.add(f"graphite host must be a host name, not {host!r}", path=where + ("host",))
    port = raw.get("port", 2003)
    if not _is_int(port, 1):
        c.add(f"graphite port must be a whole number, not {port!r}", path=where + ("port",))
    protocol = raw.get("protocol", "plaintext")
    if protocol not in GRAPHITE_PROTOCOLS:
        c.add(f"graphite protocol {protocol!r} is not one of {', '.join(GRAPHITE_PROTOCOLS)}",
              path=where + ("protocol",))
    prefix = raw.get("prefix", "") or ""
    if not isinstance(prefix, str):
        c.add(f"graphite prefix must be a string, not {prefix!r}", path=where + ("prefix",))
    elif _unsafe_in_metric(prefix):
        c.add(f"graphite prefix {prefix!r} contains {_unsafe_in_metric(prefix)!r}, which "
              "can't be in a metric path", path=where + ("prefix",))
    timeout = raw.get("timeout", 10.0)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        c.add(f"graphite timeout must be a number of seconds > 0, not {timeout!r}",
              path=where + ("timeout",))
    retries = raw.get("retries", 3)
    if not _is_int(retries, 0):
        c.add(f"graphite retries must be a whole number >= 0, not {retries!r}",
              path=where + ("retries",))
    batch_size = raw.get("batch_size", 5000)
    if not _is_int(batch_size, 1):
        c.add(f"graphite batch_size must be a whole number >= 1, not {batch_size!r}",
              path=where + ("batch_size",))
    lookups: dict[str, Mapping[str, str]] = {}
    raw_lookups = raw.get("lookups") or {}
    if not isinstance(raw_lookups, dict):
        c.add(f"graphite lookups must map placeholders to YAML files, not {raw_lookups!r}",
              path=where + ("lookups",))
        raw_lookups = {}
    for placeholder, file_name in raw_lookups.items():
        lookup_where = where + ("lookups", str(placeholder))
        if not isinstance(file_name, str):
            c.add(f"graphite lookup for {placeholder!r} must be a file name, not "
                  f"{file_name!r}", path=lookup_where)
            continue
        lookup_path = query_folder / file_name
        try:
            table = yaml.safe_load(lookup_path.read_text(encoding="utf-8"))
        except OSError as e:
            c.add(f"graphite lookup file {str(lookup_path)!r} cannot be read: "
                  f"{e.strerror or e}", path=lookup_where)
            continue
        except yaml.YAMLError as e:
            c.add(f"graphite lookup file {str(lookup_path)!r} is not valid YAML: {e}",
                  path=lookup_where)
            continue
        if not isinstance(table, dict):
            c.add(f"graphite lookup file {str(lookup_path)!r} must map values to names",
                  path=lookup_where)
            continue
        lookups[str(placeholder)] = MappingProxyType(
            {str(k): str(v) for k, v in table.items()})
    if any(p.severity == "error" for p in c.problems[before:]):
        return None
    return GraphiteConfig(host=host, port=port, protocol=protocol, prefix=prefix,
                          lookups=MappingProxyType(lookups), timeout=float(timeout),
                          retries=retries, batch_size=batch_size)


def _statsd(raw: Any, c: _Collector) -> StatsdConfig | None:
    if raw is None:
        return None
    where = ("statsd",)
    if not isinstance(raw, dict):
        c.add(f"'statsd' must be a mapping with host, port and prefix, not {raw!r}",
              path=where)
        return None
    before = len(c.problems)
    for k in raw:
        if k not in STATSD_KEYS:
            c.add(f"unknown key {k!r} in statsd (ignored)", path=where + (str(k),),
                  severity="warning")
    host = raw.get("host", "localhost")
    port = raw.get("port", 8125)
    prefix = raw.get("prefix", "reportupdater")
    if not isinstance(host, str) or not host:
        c.add(f"statsd host must be a host name, not {host!r}", path=where + ("host",))
    if not _is_int(port, 1):
        c.add(f"statsd port must be a whole number, not {port!r}", path=where + ("port",))
    if not isinstance(prefix, str):
        c.add(f"statsd prefix must be a string, not {prefix!r}", path=where + ("prefix",))
    if len(c.problems) > before and any(p.severity == "error" for p in c.problems[before:]):
        return None
    return StatsdConfig(host=host, port=port, prefix=prefix)


def _report(key: str, settings: Any, defaults: dict, databases: dict[str, DatabaseConfig],
            graphite: GraphiteConfig | None, top_hive: dict, query_folder: Path,
            c: _Collector) -> ReportConfig | None:
    base = ("reports", key)
    reason = check_explode_value(key)
    if reason:
        c.add(f"report name {key!r} is refused: {reason} (it becomes a file name in the "
              "output folder)", path=base, report=key)
        return None
    if not isinstance(settings, dict):
        c.add(f"the report's settings must be a mapping, not {settings!r}", path=base,
              report=key)
        return None
    before = len(c.problems)

    def bad(message: str, k: str) -> None:
        c.add(message, path=base + (k,), report=key)

    for k in settings:
        if k not in REPORT_KEYS:
            c.add(f"unknown key {k!r} (ignored; is it a typo?)", path=base + (str(k),),
                  report=key, severity="warning")
    merged = {**defaults, **settings}

    report_type = merged.get("type", "sql")
    if report_type not in REPORT_TYPES:
        bad(f"type {report_type!r} is not one of {', '.join(REPORT_TYPES)}", "type")

    granularity = None
    if "granularity" not in merged:
        bad("granularity is required (hours, days, weeks or months), in the report or "
            "in defaults", "granularity")
    else:
        try:
            granularity = Granularity(merged["granularity"])
        except ValueError:
            bad(f"granularity {merged['granularity']!r} is not one of "
                f"{', '.join(g.value for g in Granularity)}", "granularity")

    starts = None
    if "starts" not in merged:
        bad("starts is required (the first date, YYYY-MM-DD)", "starts")
    else:
        try:
            starts = as_datetime(merged["starts"])
        except ValueError:
            bad(f"starts {merged['starts']!r} is not a date (YYYY-MM-DD)", "starts")

    lag = merged.get("lag", 0)
    if not _is_int(lag, 0):
        bad(f"lag must be a whole number of seconds >= 0, not {lag!r}", "lag")

    max_points = merged.get("max_data_points")
    if max_points is not None and not _is_int(max_points, 1):
        bad(f"max_data_points must be a whole number >= 1, not {max_points!r}",
            "max_data_points")

    timeout = merged.get("timeout")
    if timeout is not None and (isinstance(timeout, bool)
                                or not isinstance(timeout, (int, float)) or timeout <= 0):
        bad(f"timeout must be a number of seconds > 0, not {timeout!r}", "timeout")

    group = merged.get("group")
    if group is not None:
        if not isinstance(group, str):
            bad(f"group must be a group name, not {group!r}", "group")
        else:
            try:
                grp.getgrnam(group)
            except KeyError:
                bad(f"group {group!r} does not exist on this machine", "group")

    if "funnel" in merged:
        c.add("funnel is deprecated and ignored: several rows per date are always allowed",
              path=base + ("funnel",), report=key, severity="warning")

    execute = merged.get("execute", key)
    if not isinstance(execute, str) or not execute:
        bad(f"execute must be a file name relative to the query folder, not {execute!r}",
            "execute")
        execute = None
    elif os.path.isabs(execute) or ".." in Path(execute).parts:
        bad(f"execute {execute!r} must stay inside the query folder", "execute")
        execute = None

    explode_by = _explode_by(merged.get("explode_by"), query_folder, bad)

    db = merged.get("db")
    if report_type == "sql":
        if db is None:
            bad("db is required for a sql report (a key of databases), in the report or "
                "in defaults", "db")
        elif not isinstance(db, str) or db not in databases:
            known = ", ".join(sorted(databases)) or "none defined"
            bad(f"db {db!r} is not a key of databases (known: {known})", "db")
        else:
            database = databases[db]
            placeholder = database.wiki_db_placeholder
            if (database.auto_find_db_shard and placeholder
                    and placeholder not in dict(explode_by or ())):
                bad(f"db {db!r} finds the shard from explode placeholder {placeholder!r}, "
                    "but the report does not explode by it", "explode_by")

    hive = {**top_hive, **(merged.get("hive") or {})} if isinstance(
        merged.get("hive", {}), dict) else None
    if hive is None:
        bad(f"hive must be a mapping, not {merged.get('hive')!r}", "hive")
    hive_settings = None
    if report_type == "hive" and hive is not None:
        hive_settings = _hive_settings(hive, _hive_problem(key, settings, defaults, c),
                                       query_folder)

    dialect = merged.get("dialect")
    if dialect is not None and dialect not in DIALECTS:
        bad(f"dialect {dialect!r} is not one of {', '.join(DIALECTS)}", "dialect")

    report_graphite = None
    if "graphite" in settings:
        report_graphite = _report_graphite(settings["graphite"], graphite, bad)

    template = None
    if execute is not None and report_type in REPORT_TYPES:
        template = _template(report_type, execute, query_folder, bad)
        if template is not None and explode_by is not None:
            _check_placeholders(template, [name for name, _ in explode_by], bad)

    metadata = _report_metadata(key, settings, merged, explode_by, starts, c)

    if any(p.severity == "error" for p in c.problems[before:]):
        return None
    return ReportConfig(
        key=key, type=report_type, granularity=granularity, starts=starts, lag=lag,
        execute=execute, template=template, db=db if report_type == "sql" else None,
        explode_by=explode_by, max_data_points=max_points, group=group,
        graphite=report_graphite, timeout=float(timeout) if timeout else None,
        hive=MappingProxyType(hive), hive_settings=hive_settings, dialect=dialect,
        **metadata)


def _report_metadata(key: str, settings: dict, merged: dict, explode_by: tuple | None,
                     starts: dt.datetime | None, c: _Collector) -> dict[str, Any]:
    """owner, description, ticket, ends (report or defaults) and alerts (report)."""

    def problem(message: str, path: tuple[str, ...], severity: str = "error") -> None:
        where = ("reports", key) if path[0] in settings else ("defaults",)
        name = path[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path[1:])
        c.add(message, path=where + path, report=key, severity=severity, key=name)

    found: dict[str, Any] = {}
    if merged.get("owner") is not None:
        found["owner"] = read_owner(merged["owner"], problem)
    if merged.get("description") is not None:
        found["description"] = read_description(merged["description"], problem)
    if merged.get("ticket") is not None:
        found["ticket"] = read_ticket(merged["ticket"], problem)
    if merged.get("ends") is not None:
        try:
            found["ends"] = as_datetime(merged["ends"])
        except ValueError:
            problem(f"ends {merged['ends']!r} is not a date (YYYY-MM-DD)", ("ends",))
        else:
            if starts is not None and found["ends"] <= starts:
                problem(f"ends {found['ends']:%Y-%m-%d} is not after starts "
                        f"{starts:%Y-%m-%d}: the report computes nothing", ("ends",),
                        "warning")
    if settings.get("alerts") is not None:
        found["alerts"] = read_rules(settings["alerts"], problem, dict(explode_by or ()))
    return found


def _hive_problem(report: str, settings: dict, defaults: dict, c: _Collector):
    """A ``problem(message, key, severity)`` that points at the line the value came from."""
    own = settings.get("hive") if isinstance(settings.get("hive"), dict) else {}
    from_defaults = ("hive" not in settings and isinstance(defaults.get("hive"), dict))

    def problem(message: str, k: str, severity: str = "error") -> None:
        if k in own:
            path: tuple[str, ...] = ("reports", report, "hive", k)
        elif from_defaults and k in defaults["hive"]:
            path = ("defaults", "hive", k)
        else:
            path = ("hive", k)
        c.add(message, path=path, report=report, severity=severity, key=f"hive.{k}")

    return problem


def _hive_settings(raw: Mapping[str, Any], problem, query_folder: Path) -> HiveSettings | None:
    errors = 0

    def bad(message: str, k: str) -> None:
        nonlocal errors
        errors += 1
        problem(message, k)

    for k in raw:
        if k == "password":
            bad("an inline hive password is not allowed: put it in a file only this user "
                "can read and set password_file to its path", "password")
        elif k not in HIVE_KEYS:
            problem(f"unknown key {k!r} in hive (ignored; known keys: "
                    f"{', '.join(sorted(HIVE_KEYS))})", str(k), "warning")

    backend = raw.get("backend", "cli")
    if backend not in HIVE_BACKENDS:
        bad(f"hive backend {backend!r} is not one of {', '.join(HIVE_BACKENDS)}", "backend")

    command = raw.get("command", DEFAULT_HIVE_COMMAND)
    if isinstance(command, str):
        try:
            command = shlex.split(command)
        except ValueError as e:
            bad(f"hive command {command!r} cannot be split into arguments: {e}", "command")
            command = DEFAULT_HIVE_COMMAND
    if (not isinstance(command, (list, tuple)) or not command
            or not all(isinstance(arg, str) and arg for arg in command)):
        bad(f"hive command must be a list of arguments such as [hive, -e, '{{query}}'], "
            f"not {command!r}", "command")
        command = DEFAULT_HIVE_COMMAND
    uses = sum(arg.count(p) for arg in command for p in HIVE_QUERY_PLACEHOLDERS)
    if uses != 1:
        bad(f"hive command {list(command)!r} must contain exactly one {{query}} or "
            f"{{query_file}} placeholder, not {uses}", "command")

    host = raw.get("host")
    if host is not None and (not isinstance(host, str) or not host):
        bad(f"hive host must be a host name, not {host!r}", "host")
    elif host is None and backend == "hiveserver2":
        bad("hive host is required for backend hiveserver2", "host")
    port = raw.get("port", 10000)
    if not _is_int(port, 1) or port > 65535:
        bad(f"hive port must be a port number (1-65535), not {port!r}", "port")

    auth = raw.get("auth", "NONE")
    auth = auth.upper() if isinstance(auth, str) else auth
    if auth not in HIVE_AUTHS:
        bad(f"hive auth {raw.get('auth')!r} is not one of {', '.join(HIVE_AUTHS)}", "auth")
    service = raw.get("kerberos_service_name")
    if service is not None and (not isinstance(service, str) or not service):
        bad(f"hive kerberos_service_name must be a name such as 'hive', not {service!r}",
            "kerberos_service_name")
    if auth == "KERBEROS":
        service = service or "hive"
    else:
        service = None  # pyhive refuses it with any other auth
    username = raw.get("username")
    if username is not None and (not isinstance(username, str) or not username):
        bad(f"hive username must be a string, not {username!r}", "username")
    password_file = raw.get("password_file")
    if password_file is not None and (not isinstance(password_file, str) or not password_file):
        bad(f"hive password_file must be a file path, not {password_file!r}", "password_file")
        password_file = None
    if auth == "LDAP" and password_file is None and "password_file" not in raw:
        bad("hive auth LDAP needs password_file (a file holding the password)",
            "password_file")
    if password_file is not None:
        password_file = Path(password_file).expanduser()
        if not password_file.is_absolute():
            password_file = query_folder / password_file
        if auth != "LDAP":
            problem(f"hive password_file is only used with auth LDAP, not {auth!r} (ignored)",
                    "password_file", "warning")
            password_file = None

    database = raw.get("database", "default")
    if not isinstance(database, str) or not database:
        bad(f"hive database must be a database name, not {database!r}", "database")
    configuration = raw.get("configuration") or {}
    if not isinstance(configuration, dict):
        bad(f"hive configuration must map setting names to values, not {configuration!r}",
            "configuration")
        configuration = {}
    session: dict[str, str] = {}
    for name, value in configuration.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif not isinstance(value, (str, int, float)):
            bad(f"hive configuration {name!r} must be a single value, not {value!r}",
                "configuration")
            continue
        session[str(name)] = str(value)
    max_concurrency = raw.get("max_concurrency", 2)
    if not _is_int(max_concurrency, 1):
        bad(f"hive max_concurrency must be a whole number >= 1, not {max_concurrency!r}",
            "max_concurrency")

    if errors:
        return None
    return HiveSettings(
        backend=backend, command=tuple(command), host=host, port=port, auth=auth,
        kerberos_service_name=service, username=username, password_file=password_file,
        database=database, configuration=tuple(sorted(session.items())),
        max_concurrency=max_concurrency)


def _explode_by(raw: Any, query_folder: Path, bad) -> tuple | None:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        bad(f"explode_by must map placeholders to values or a file name, not {raw!r}",
            "explode_by")
        return None
    result = []
    ok = True
    for placeholder, spec in sorted(raw.items(), key=lambda item: str(item[0])):
        placeholder = str(placeholder)
        where = f"explode_by.{placeholder}"
        if not placeholder.isidentifier():
            bad(f"explode placeholder {placeholder!r} must be a name (letters, digits, _)",
                where)
            ok = False
            continue
        if placeholder in TEMPLATE_VARIABLES or placeholder in JINJA_EXTRA_VARIABLES:
            bad(f"explode placeholder {placeholder!r} clashes with a built-in template "
                "variable", where)
            ok = False
            continue
        if isinstance(spec, list):
            values = [str(v).strip() for v in spec]
            source = "the inline list"
        elif isinstance(spec, (str, int, float)) and not isinstance(spec, bool):
            values = [v.strip() for v in str(spec).split(",")]
            source = "the inline list"
            if len(values) == 1:
                values_path = query_folder / values[0]
                if values[0] and values_path.is_file():
                    try:
                        lines = values_path.read_text(encoding="utf-8").splitlines()
                    except (OSError, UnicodeDecodeError) as e:
                        bad(f"explode file {str(values_path)!r} cannot be read: {e}", where)
                        ok = False
                        continue
                    values = [line.strip() for line in lines if line.strip()]
                    source = f"file {str(values_path)!r}"
                    if not values:
                        bad(f"explode file {str(values_path)!r} has no values", where)
                        ok = False
                        continue
        else:
            bad(f"explode_by value must be a comma-separated list or a file name, not "
                f"{spec!r}", where)
            ok = False
            continue
        for value in values:
            reason = check_explode_value(value)
            if reason:
                bad(f"explode value {value!r} from {source} is refused: {reason} "
                    "(values become file names and are pasted into queries)", where)
                ok = False
        if len(set(values)) != len(values):
            dupes = sorted({v for v in values if values.count(v) > 1})
            bad(f"explode values repeat in {source}: {', '.join(dupes)}", where)
            ok = False
        result.append((placeholder, tuple(values)))
    return tuple(result) if ok else None


def _unsafe_in_metric(text: str) -> str | None:
    """A character of config text that can't be in a Graphite metric path, if any."""
    for char in text:
        if char.isspace() or char in "'\"/\\":
            return char
    return None


def _report_graphite(raw: Any, graphite: GraphiteConfig | None, bad) -> ReportGraphite | None:
    if not isinstance(raw, dict):
        bad(f"graphite must be a mapping with path and metrics, not {raw!r}", "graphite")
        return None
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        bad(f"graphite.path must be a format string such as '{{_metric}}.{{wiki}}', "
            f"not {path!r}", "graphite.path")
        return None
    metrics_raw = raw.get("metrics")
    pairs: list[tuple[str, str]] = []
    # The original documented both a mapping and a list of one-key mappings.
    items = metrics_raw if isinstance(metrics_raw, list) else [metrics_raw]
    for item in items:
        if not isinstance(item, dict) or not item:
            bad(f"graphite.metrics must map metric names to column names, not "
                f"{metrics_raw!r}", "graphite.metrics")
            return None
        for name, column in item.items():
            if not isinstance(column, str):
                bad(f"graphite metric {name!r} must name a column, not {column!r}",
                    "graphite.metrics")
                return None
            if _unsafe_in_metric(str(name)):
                bad(f"graphite metric name {name!r} contains "
                    f"{_unsafe_in_metric(str(name))!r}, which can't be in a metric path",
                    "graphite.metrics")
                return None
            pairs.append((str(name), column))
    for k in raw:
        if k not in ("path", "metrics"):
            bad(f"unknown key {k!r} in graphite (known: path, metrics)", f"graphite.{k}")
            return None
    if graphite is None:
        bad("the report has a graphite section but the config has no top-level graphite "
            "(host, port)", "graphite")
        return None
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(path) if f is not None}
    except ValueError as e:
        bad(f"graphite.path {path!r} is not a valid format string: {e}", "graphite.path")
        return None
    if "" in fields:
        bad(f"graphite.path {path!r} has an empty {{}} placeholder; name it",
            "graphite.path")
        return None
    for text, _, _, _ in string.Formatter().parse(path):
        if _unsafe_in_metric(text):
            bad(f"graphite.path {path!r} contains {_unsafe_in_metric(text)!r}, which can't "
                "be in a metric path (values from data are sanitised, the path's own text "
                "is not)", "graphite.path")
            return None
    return ReportGraphite(path=path, metrics=tuple(pairs))


def _template(report_type: str, execute: str, query_folder: Path, bad) -> Template | None:
    if report_type == "script":
        script = query_folder / execute
        if not script.is_file():
            bad(f"script {str(script)!r} does not exist", "execute")
            return None
        if not os.access(script, os.X_OK):
            bad(f"script {str(script)!r} is not executable (chmod +x it)", "execute")
            return None
        return Template(path=script, kind="script", language="script")
    extension = "sql" if report_type == "sql" else "hql"
    legacy = query_folder / f"{execute}.{extension}"
    jinja = query_folder / f"{execute}.{extension}.j2"
    if legacy.exists() and jinja.exists():
        bad(f"both {str(legacy)!r} and {str(jinja)!r} exist; keep only one", "execute")
        return None
    chosen, kind = (jinja, "jinja") if jinja.exists() else (legacy, "format")
    try:
        text = chosen.read_text(encoding="utf-8")
    except FileNotFoundError:
        bad(f"template {str(legacy)!r} (or {jinja.name!r}) does not exist", "execute")
        return None
    except (OSError, UnicodeDecodeError) as e:
        bad(f"template {str(chosen)!r} cannot be read: {e}", "execute")
        return None
    return Template(path=chosen, kind=kind, language=report_type, text=text)


def _check_placeholders(template: Template, placeholders: list[str], bad) -> None:
    from .templates import template_variables  # templates imports config types

    if template.kind == "script":
        return
    try:
        used = template_variables(template)
    except Exception as e:  # noqa: BLE001 - any parse error is reported as such
        bad(f"template {str(template.path)!r} does not parse: {e}", "execute")
        return
    known = set(TEMPLATE_VARIABLES) | set(placeholders)
    if template.kind == "jinja":
        known |= set(JINJA_EXTRA_VARIABLES)
    unknown = sorted(used - known)
    if unknown:
        bad(f"template {str(template.path)!r} uses unknown placeholder"
            f"{'s' if len(unknown) > 1 else ''} {', '.join('{' + u + '}' for u in unknown)} "
            f"(known: {', '.join(sorted(known))})", "execute")
