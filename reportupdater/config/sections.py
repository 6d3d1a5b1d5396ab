"""Every config key, declared once: its kind, range, default and documentation.

To add a key, add a ``Field`` to its section here (and a row to
docs/config.md, which tests/test_config_spec.py checks); read the value from
the dict that ``Section.read`` returns in loader.py and store it on the
dataclass in model.py. Checks that involve several keys stay in code.
"""

from __future__ import annotations

import dataclasses
import grp
import os
from pathlib import PurePosixPath
from typing import Any

from ..addresses import is_url, parse_addresses
from ..intervals import Granularity
from .model import (DEFAULT_HIVE_COMMAND, DEFAULT_MAX_RUN_SECONDS, DatabaseEngine, Dialect,
                    ExplodeValues, GraphiteProtocol, HiveAuth, HiveBackend, ReportType)
from .names import path_part_problem
from .spec import (REQUIRED, TEN_YEARS, Choice, Date, Field, Flag, Int, Invalid, Kind,
                   Section, Seconds, Text, _control_character, declaration)

MAX_WORKERS = 1000  # jobs, max_connections, max_concurrency
HIVE_QUERY_PLACEHOLDERS = ("{query}", "{query_file}")


@declaration
class Table(Kind):
    """A mapping (``null`` counts as empty); its keys are checked elsewhere."""

    expect: str = "a mapping"
    phrase: str | None = None  # the whole "must ..." wording, where it was always different

    def parse(self, value: Any) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            if self.phrase:
                raise Invalid(f"{self.phrase}, not {value!r}")
            raise self.refuse(value)
        return value


class GroupName(Kind):
    expect = "a group name"

    def parse(self, value: Any) -> str:
        if not isinstance(value, str) or _control_character(value):
            raise self.refuse(value)
        try:
            grp.getgrnam(value)
        except (KeyError, ValueError):
            raise Invalid(f"{value!r} does not exist on this machine") from None
        return value


class ExecutePath(Kind):
    expect = "a file name relative to the query folder"

    def parse(self, value: Any) -> str:
        if not isinstance(value, str) or not value or _control_character(value):
            raise self.refuse(value)
        if os.path.isabs(value) or ".." in PurePosixPath(value).parts:
            raise Invalid(f"{value!r} must stay inside the query folder")
        for part in PurePosixPath(value).parts:
            reason = path_part_problem(part + ".sql.j2")
            if reason:
                raise Invalid(f"{value!r} cannot be a file name: {reason}")
        return value


class MetricText(Text):
    """Text that goes into a Graphite metric path as it is."""

    def parse(self, value: Any) -> str:
        text = super().parse(value)
        char = unsafe_in_metric(text)
        if char:
            raise Invalid(f"{text!r} contains {char!r}, which can't be in a metric path")
        return text


def unsafe_in_metric(text: str) -> str | None:
    """A character of config text that can't be in a Graphite metric path, if any."""
    for char in text:
        if char.isspace() or char in "'\"/\\":
            return char
    return None


class HiveCommand(Kind):
    expect = "a list of arguments such as [hive, -e, '{query}']"

    def parse(self, value: Any) -> tuple[str, ...]:
        command = value
        if isinstance(value, str):
            import shlex  # only a hive command given as one string needs it

            try:
                command = shlex.split(value)
            except ValueError as e:
                raise Invalid(f"{value!r} cannot be split into arguments: {e}") from None
        if (not isinstance(command, (list, tuple)) or not command
                or not all(isinstance(a, str) and a and "\0" not in a for a in command)):
            raise self.refuse(value)
        uses = sum(arg.count(p) for arg in command for p in HIVE_QUERY_PLACEHOLDERS)
        if uses != 1:
            raise Invalid(f"{list(command)!r} must contain exactly one {{query}} or "
                          f"{{query_file}} placeholder, not {uses}")
        return tuple(command)


class HiveConfiguration(Kind):
    expect = "a mapping of setting names to values"

    def parse(self, value: Any) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, dict):
            raise Invalid(f"must map setting names to values, not {value!r}")
        session: dict[str, str] = {}
        for name, setting in value.items():
            if isinstance(setting, bool):
                setting = "true" if setting else "false"
            elif (not isinstance(setting, (str, int, float))
                  or _control_character(str(setting)) or _control_character(str(name))):
                raise Invalid(f"{name!r} must be a single value, not {setting!r}")
            session[str(name)] = str(setting)
        return tuple(sorted(session.items()))


class Addresses(Kind):
    """An email address or a list of them."""

    expect = "an email address or a list of them"

    def parse(self, value: Any) -> tuple[str, ...]:
        try:
            return parse_addresses(value)
        except ValueError as e:
            raise Invalid(str(e)) from None


class Url(Kind):
    expect = "a URL (http:// or https://)"

    def parse(self, value: Any) -> str:
        if not isinstance(value, str) or not is_url(value.strip()):
            raise self.refuse(value)
        return value.strip()


def _port(**kw: Any) -> Int:
    return Int(1, 65535, show_minimum=False, **kw)


TOP_LEVEL = Section({
    "reports": Field(Table(), REQUIRED, "a map of report name to its settings"),
    "defaults": Field(Table(), {}, "fallback values for any report key"),
    "databases": Field(Table(), {}, "a map of database name to its connection"),
    "graphite": Field(Table("a mapping with host and port"), None,
                      "where and how to send metrics", null_is_default=True),
    "statsd": Field(Table("a mapping with host, port and prefix"), None,
                    "where to send the pipeline's own health metrics", null_is_default=True),
    "hive": Field(Table(), {}, "the default `hive:` settings of every `type: hive` report"),
    "jobs": Field(Int(1, MAX_WORKERS), None,
                  "how many intervals execute at once; `--jobs` wins (default 4)"),
    "max_run_seconds": Field(Int(1, TEN_YEARS, unit="seconds"), DEFAULT_MAX_RUN_SECONDS,
                             "a run that has taken longer stops itself"),
    "alerting": Field(Table("a mapping with email and/or webhook"), None,
                      "where alert messages go (see docs/alerts.md)", null_is_default=True),
    "cohorts": Field(Table(), {}, "a map of cohort name to `{db, users}` or `{db, query}`"),
}, label="'{key}'", unknown="unknown top-level key {key!r} (ignored; known keys: {known})")

REPORT = Section({
    "type": Field(Choice(ReportType), ReportType.SQL, "how the report is computed"),
    "granularity": Field(Choice(Granularity), REQUIRED, "the length of one interval",
                         required_hint="(hours, days, weeks or months), in the report or "
                                       "in defaults"),
    "starts": Field(Date(), REQUIRED, "the first date, YYYY-MM-DD",
                    required_hint="(the first date, YYYY-MM-DD)"),
    "lag": Field(Int(0, TEN_YEARS, unit="seconds"), 0,
                 "seconds to wait after an interval ends before computing it"),
    "execute": Field(ExecutePath(), None, "the template or script, without extension "
                                          "(default: the report name)"),
    "db": Field(Kind(), None, "for `sql` reports: a key of `databases`"),
    "explode_by": Field(Kind(), None, "a map of placeholder to values"),
    "explode_values": Field(Choice(ExplodeValues), None,
                            "`plain` (default) or `any`: which explode values are taken"),
    "max_data_points": Field(Int(1), None, "only the last N intervals are kept"),
    "group": Field(GroupName(), None, "chgrp the output files to this group"),
    "graphite": Field(Kind(), None, "`{path, metrics}`: which columns go to Graphite"),
    "funnel": Field(Kind(), None, "deprecated and ignored"),
    "timeout": Field(Seconds(), None, "seconds after which a query or script is killed"),
    "hive": Field(Table(), {}, "per-report `hive:` settings over the top-level ones"),
    "description": Field(Text(), None, "what the report measures; shown in alerts"),
    "owner": Field(Addresses(), (), "who gets the report's alerts"),
    "ticket": Field(Url(), None, "a URL, e.g. the metric's clean-up task"),
    "ends": Field(Date(), None, "no interval starting on or after it is computed"),
    "alerts": Field(Kind(), None, "alert rules, per report (see docs/alerts.md)"),
    "dialect": Field(Choice(Dialect), None, "the SQL dialect of the query, for local runs "
                                           "(default: by engine)"),
    "metric": Field(Kind(), None, "for `cohort` reports: the metric measured"),
    "cohort": Field(Kind(), None, "for `cohort` reports: a key of `cohorts`"),
    "params": Field(Kind(), None, "for `cohort` reports: the metric's parameters"),
    "aggregate": Field(Kind(), None, "for `cohort` reports: the aggregate columns written "
                                     "(default: all)"),
}, unknown="unknown key {key!r} (ignored; is it a typo?)")

DEFAULTS = dataclasses.replace(REPORT, unknown="unknown key {key!r} in defaults (ignored)")

DATABASE = Section({
    "engine": Field(Choice(DatabaseEngine), DatabaseEngine.MYSQL, "`mysql` or `duckdb`"),
    "host": Field(Text(), None, "the server's host name"),
    "port": Field(_port(), 3306, "the server's port"),
    "db": Field(Text(), None, "the database to use"),
    "creds_file": Field(Text(), None, "a my.cnf-style file with a [client] section"),
    "path": Field(Text(), None, "duckdb: the database file (default: in memory)"),
    "auto_find_db_shard": Field(Flag(), False, "find each wiki's shard"),
    "wiki_db_placeholder": Field(Text(), None, "the explode placeholder holding the wiki db"),
    "mw_config_path": Field(Text(), "/srv/mediawiki-config", "where the dblists are"),
    "use_x1": Field(Flag(), False, "every wiki on shard x1"),
    "shards": Field(Table(phrase="must map shard names to {host, port}"), {},
                    "shard name to `{host, port}`; else DNS SRV"),
    "domain": Field(Text(), "eqiad.wmnet", "the domain of the SRV lookup"),
    "max_connections": Field(Int(1, MAX_WORKERS), 4, "at most this many queries at once"),
}, label="database {name!r}: {key}", unknown="unknown key {key!r} in database {name!r} "
                                            "(ignored)")

GRAPHITE = Section({
    "host": Field(Text("a host name", empty=False), REQUIRED, "carbon's host"),
    "port": Field(_port(), 2003, "carbon's port"),
    "protocol": Field(Choice(GraphiteProtocol), GraphiteProtocol.PLAINTEXT,
                      "`plaintext` or `pickle`"),
    "prefix": Field(MetricText(), "", "put before every metric path", null_is_default=True),
    "timeout": Field(Seconds(86400), 10.0, "seconds to wait for carbon"),
    "retries": Field(Int(0, 100), 3, "attempts after the first"),
    "batch_size": Field(Int(1, 1_000_000), 5000, "points per message"),
    "lookups": Field(Table(phrase="must map placeholders to YAML files"), {},
                     "explode placeholder to a YAML file of value -> name"),
}, label="graphite {key}", unknown="unknown key {key!r} in graphite (ignored)")

STATSD = Section({
    "host": Field(Text("a host name", empty=False), "localhost", "the StatsD host"),
    "port": Field(_port(), 8125, "the StatsD port"),
    "prefix": Field(Text(), "reportupdater", "put before every metric name"),
}, label="statsd {key}", unknown="unknown key {key!r} in statsd (ignored)")

HIVE = Section({
    "backend": Field(Choice(HiveBackend), HiveBackend.CLI, "`cli` or `hiveserver2`"),
    "command": Field(HiveCommand(), DEFAULT_HIVE_COMMAND,
                     "cli: the command, with one `{query}` or `{query_file}`"),
    "host": Field(Text("a host name", empty=False), None, "hiveserver2: the host"),
    "port": Field(_port(expect_text="a port number (1-65535)"), 10000,
                  "hiveserver2: the port"),
    "auth": Field(Choice(HiveAuth, normalise=str.upper), HiveAuth.NONE,
                  "NONE, NOSASL, LDAP or KERBEROS"),
    "kerberos_service_name": Field(Text("a name such as 'hive'", empty=False), None,
                                   "KERBEROS: the service (default hive)"),
    "username": Field(Text(empty=False), None, "the user name"),
    "password_file": Field(Text("a file path", empty=False), None,
                           "LDAP: a file holding the password"),
    "database": Field(Text("a database name", empty=False), "default", "the database"),
    "configuration": Field(HiveConfiguration(), (), "session settings",
                           null_is_default=True),
    "max_concurrency": Field(Int(1, MAX_WORKERS), 2, "at most this many queries at once"),
}, label="hive {key}", unknown="unknown key {key!r} in hive (ignored; known keys: {known})")
