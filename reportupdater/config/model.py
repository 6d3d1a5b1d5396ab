"""The validated config as frozen values: what every later stage reads.

Built once by ``load_config`` and never changed. The closed sets of values
are ``StrEnum``s, so ``report.type == "script"`` still reads naturally and
the values print as the words written in the YAML.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Iterator, Mapping

from ..intervals import Granularity
from ..templates import Template

if TYPE_CHECKING:  # imported where a config has cohorts or alerts, not by every run
    from ..alerts.settings import AlertingSettings, AlertRule
    from ..cohorts.spec import CohortConfig, CohortReport

# The Hive CLI prints no header unless told to; the first line must be the header.
DEFAULT_HIVE_COMMAND = ("hive", "--hiveconf", "hive.cli.print.header=true", "-e", "{query}")
DEFAULT_MAX_RUN_SECONDS = 6 * 3600


class ReportType(enum.StrEnum):
    SQL = "sql"
    HIVE = "hive"
    SCRIPT = "script"
    COHORT = "cohort"


class DatabaseEngine(enum.StrEnum):
    MYSQL = "mysql"
    DUCKDB = "duckdb"


class GraphiteProtocol(enum.StrEnum):
    PLAINTEXT = "plaintext"
    PICKLE = "pickle"


class HiveBackend(enum.StrEnum):
    CLI = "cli"
    HIVESERVER2 = "hiveserver2"


class HiveAuth(enum.StrEnum):
    NONE = "NONE"
    NOSASL = "NOSASL"
    LDAP = "LDAP"
    KERBEROS = "KERBEROS"


class Dialect(enum.StrEnum):
    """The SQL dialect a query is written in, for local runs (sqlglot's names)."""

    MYSQL = "mysql"
    HIVE = "hive"
    SPARK = "spark"
    DUCKDB = "duckdb"
    TRINO = "trino"
    PRESTO = "presto"
    POSTGRES = "postgres"
    SQLITE = "sqlite"


class ExplodeValues(enum.StrEnum):
    """Which explode values a report takes (the ``explode_values`` key)."""

    PLAIN = "plain"  # letters, digits, _, - and . only: safe to paste into a query
    ANY = "any"  # anything that is safe as a file name; templates must quote it


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
class ReportGraphite:
    """Per report: the metric path template and metric name -> column."""

    path: str
    metrics: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class HiveSettings:
    """How a ``type: hive`` report reaches Hive: top-level ``hive:`` merged with the report's."""

    backend: HiveBackend = HiveBackend.CLI
    command: tuple[str, ...] = DEFAULT_HIVE_COMMAND  # cli: one arg holds {query} or {query_file}
    host: str | None = None
    port: int = 10000
    auth: HiveAuth = HiveAuth.NONE
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
    """One report, its settings merged over ``defaults`` and checked."""

    key: str
    type: ReportType
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
    hive_settings: HiveSettings | None = None  # type: hive reports only
    # PLAIN or ANY; None for a script report that does not name the key.
    explode_values: ExplodeValues | None = ExplodeValues.PLAIN
    dialect: Dialect | None = None  # the query's SQL dialect for local runs (None: by engine)
    cohort: CohortReport | None = None  # type: cohort reports only
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
    """One entry of ``databases``: how to reach a MariaDB, Hive or DuckDB database."""

    key: str
    engine: DatabaseEngine = DatabaseEngine.MYSQL
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
    """Where and how metrics are sent to Graphite (top-level ``graphite``)."""

    host: str
    port: int = 2003
    protocol: GraphiteProtocol = GraphiteProtocol.PLAINTEXT
    prefix: str = ""
    lookups: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    timeout: float = 10.0
    retries: int = 3
    batch_size: int = 5000


@dataclass(frozen=True)
class StatsdConfig:
    """Where the run's own health metrics go (top-level ``statsd``)."""

    host: str = "localhost"
    port: int = 8125
    prefix: str = "reportupdater"


@dataclass(frozen=True)
class Config:
    """A whole ``config.yaml``: reports, databases, sinks, and every problem found."""

    path: Path
    query_folder: Path
    reports: tuple[ReportConfig, ...]
    databases: Mapping[str, DatabaseConfig]
    graphite: GraphiteConfig | None = None
    statsd: StatsdConfig | None = None
    jobs: int | None = None
    max_run_seconds: int = DEFAULT_MAX_RUN_SECONDS  # a run stops itself after this long
    alerting: AlertingSettings | None = None
    problems: tuple[Problem, ...] = ()
    report_keys: tuple[str, ...] = ()  # every key under `reports`, valid or not
    cohorts: Mapping[str, CohortConfig] = field(default_factory=lambda: MappingProxyType({}))

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
