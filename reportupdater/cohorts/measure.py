"""Measure a metric over a cohort: one set-based query per wiki.

Input: a ``Config`` (its databases and ``cohorts``), a cohort name, a metric
and its ``MetricParams``, and for query cohorts and input windows an
interval. Output: a ``Measurement``: every member's value (or null and a
reason), the cohort's aggregates, the names no user has, and the queries run.

Steps: read the cohort (a file, or its query rendered for the interval and
run once); resolve names through ``user`` (one parameterised query per wiki
that has names); then render the metric's template (built in, or
``cohort_metrics/<metric>.sql.j2`` in the query folder) for each wiki's IDs
and run it once. Aggregates are computed from the per-user values here.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..errors import CohortError, ReportUpdaterError
from ..intervals import Granularity
from .aggregate import aggregate
from .members import Member, Resolved, check_wiki, members_from_rows, read_members
from .metrics import METRICS, TIMESTAMP, MetricParams, needs_registration
from .spec import CohortConfig

if TYPE_CHECKING:
    from ..config import Config, DatabaseConfig

EMPTY_SHA1 = "phoiac9h4m842xq45sp7s6u21eteeq1"  # base-36 SHA-1 of an empty page
OVERRIDE_FOLDER = "cohort_metrics"
NO_SUCH_USER = "no such user"
NO_REGISTRATION = "no registration date"
MISSING_INDEX = 1176  # ER_KEY_DOES_NOT_EXITS: an index hint names no index of the table

log = logging.getLogger("reportupdater")


@dataclass(frozen=True)
class UserValue:
    """One member's value; ``value`` is None exactly when ``reason`` says why."""

    user_id: int | None
    user_name: str | None
    wiki: str
    value: Any
    reason: str | None = None


@dataclass
class Measurement:
    metric: str
    cohort: str
    params: MetricParams
    users: list[UserValue]
    aggregates: dict[str, Any]
    unknown: list[tuple[str, str]]  # (wiki, user name or ID) nobody has
    queries: list[tuple[str, str]] = field(default_factory=list)  # (purpose, wiki)


@dataclass(frozen=True)
class Span:
    """An interval for cohort queries: ``[start, end)``, any length."""

    start: dt.datetime
    end: dt.datetime
    granularity: Granularity = Granularity.DAYS


# --- connections --------------------------------------------------------------------

def connect_wiki(database: DatabaseConfig, wiki: str):
    """A pymysql connection to ``wiki`` (its shard when auto_find_db_shard)."""
    import pymysql

    from ..engines.mysql import shard_address, shard_of

    host, port = database.host, database.port
    if database.auto_find_db_shard:
        host, port = shard_address(database, shard_of(database, wiki))
    options = dict(host=host, port=port, database=wiki, charset="utf8mb4", autocommit=True,
                   connect_timeout=30)
    if database.creds_file:
        options["read_default_file"] = database.creds_file
    try:
        return _connection_class()(**options)
    except pymysql.MySQLError as e:
        raise CohortError(f"cannot connect to wiki {wiki!r} of database {database.key!r} at "
                          f"{host}:{port}: {e}") from e


_PREFERRED_TLS: list = []  # the one context of pymysql's "TLS if the server offers it"


@functools.lru_cache(maxsize=None)
def _connection_class():
    """pymysql's Connection, building its default TLS context once per process.

    Without TLS options pymysql tries TLS when the server offers it, and builds
    a fresh context for that on every connection: loading the system's CA paths
    takes about 30 ms, as long as a small metric's query. The context (no CA,
    no verification) is the same every time, so it is made once and shared.
    """
    import pymysql

    class Connection(pymysql.connections.Connection):
        def _create_ssl_ctx(self, sslp):
            if sslp:
                return super()._create_ssl_ctx(sslp)
            if not _PREFERRED_TLS:
                _PREFERRED_TLS.append(super()._create_ssl_ctx(sslp))
            return _PREFERRED_TLS[0]

    return Connection


class Session:
    """Connections per wiki of one database, and every statement run on them."""

    def __init__(self, database: DatabaseConfig,
                 connect: Callable[[DatabaseConfig, str], Any] | None = None):
        self.database = database
        self.connect = connect or connect_wiki
        self.connections: dict[str, Any] = {}
        self.executed: list[tuple[str, str]] = []  # (purpose, wiki)

    def run(self, wiki: str, sql: str, args: Any = None, *,
            purpose: str) -> tuple[list[str], list[tuple]]:
        import pymysql

        connection = self.connections.get(wiki)
        if connection is None:
            connection = self.connections[wiki] = self.connect(self.database, wiki)
        self.executed.append((purpose, wiki))
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                header = [c[0] for c in cursor.description or ()]
                return header, list(cursor.fetchall())
        except pymysql.MySQLError as e:
            raise CohortError(f"{purpose} query failed on wiki {wiki!r}: {e}") from e

    def close(self) -> None:
        for connection in self.connections.values():
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing must not hide the outcome
                pass
        self.connections.clear()


# --- templates ----------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _environment(override_folder: str | None):
    import jinja2

    loaders = [jinja2.PackageLoader("reportupdater.cohorts", "sql")]
    if override_folder:
        loaders.insert(0, jinja2.FileSystemLoader(override_folder))
    return jinja2.Environment(loader=jinja2.ChoiceLoader(loaders),
                              undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=True)


def render_metric(metric: str, params: MetricParams, user_ids: list[int],
                  query_folder: Path | None = None, index_hints: bool = True) -> str:
    """The SQL of ``metric`` for these users: the query folder's template if it has one.

    ``index_hints``: whether a template may name MediaWiki's indexes (IGNORE
    INDEX); without them it leaves every plan to the optimizer.
    """
    import jinja2

    folder = None
    if query_folder is not None and (Path(query_folder) / OVERRIDE_FOLDER).is_dir():
        folder = str(Path(query_folder) / OVERRIDE_FOLDER)
    spec = METRICS[metric]
    context = dict(
        user_ids=[int(i) for i in user_ids],
        window=params.window or "registration", t=int(params.t or 0),
        t_unit="MINUTE" if spec.t_unit == "minutes" else "HOUR",
        start=params.start, end=params.end, namespaces=params.namespaces,
        include_deleted=bool(params.include_deleted), n=params.n, a=params.a, b=params.b,
        k=params.k, empty_sha1=EMPTY_SHA1, index_hints=index_hints)
    try:
        return _environment(folder).get_template(f"{metric}.sql.j2").render(context)
    except jinja2.TemplateError as e:
        raise CohortError(f"metric template {metric}.sql.j2 cannot be rendered: {e}") from e


def render_cohort_query(cohort: CohortConfig, span: Span,
                        explode: Mapping[str, str]) -> str:
    """A query cohort's SQL for ``span``, as a report's template would be rendered."""
    from .. import templates

    if span is None:
        raise CohortError(f"cohort {cohort.key!r} is a query and needs an interval "
                          "(its template uses the interval placeholders)")
    holder = SimpleNamespace(template=cohort.query, key=cohort.key)
    return templates.render(holder, span, explode)


# --- measuring ----------------------------------------------------------------------

def default_wiki(database: DatabaseConfig, explode: Mapping[str, str]) -> str:
    wiki = explode.get(database.wiki_db_placeholder or "") or database.db
    if not wiki:
        raise CohortError(f"database {database.key!r} names no db, so every cohort line "
                          "needs a wiki column")
    return check_wiki(wiki, f"database {database.key!r}")


def cohort_members(config: Config, cohort: CohortConfig, session: Session,
                   span: Span | None, explode: Mapping[str, str]) -> list[Member]:
    if cohort.users is not None:
        return read_members(cohort.users)
    sql = render_cohort_query(cohort, span, explode)
    wiki = default_wiki(session.database, explode)
    header, rows = session.run(wiki, sql, purpose=f"cohort {cohort.key!r}")
    return members_from_rows(header, rows, str(cohort.query.path))


def resolve(members: list[Member], wiki: str, session: Session) -> Resolved:
    """User IDs per wiki; names are looked up in ``user``, as query parameters."""
    resolved = Resolved()
    names: dict[str, list[str]] = {}
    for member in members:
        member_wiki = member.wiki or wiki
        if member.user_id is not None:
            resolved.add(member_wiki, member.user_id)
        else:
            wiki_names = names.setdefault(member_wiki, [])
            if member.user_name not in wiki_names:
                wiki_names.append(member.user_name)
    for member_wiki, wanted in names.items():
        found: dict[str, int] = {}
        for i in range(0, len(wanted), 5000):
            chunk = wanted[i:i + 5000]
            placeholders = ", ".join(["%s"] * len(chunk))
            _, rows = session.run(
                member_wiki, f"SELECT user_id, user_name FROM user WHERE user_name IN "
                             f"({placeholders})", [n.encode() for n in chunk],
                purpose="user names")
            for user_id, user_name in rows:
                found[_text(user_name)] = int(user_id)
        for name in wanted:
            if name in found:
                resolved.add(member_wiki, found[name])
                resolved.names[(member_wiki, found[name])] = name
            else:
                resolved.unknown_names.append((member_wiki, name))
    return resolved


def _text(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


PACKED = ["packed_count", "packed_columns", "packed_rows"]


def unpack(header: list[str], rows: list[tuple],
           purpose: str) -> tuple[list[str], list[Any]]:
    """A metric query's rows: as they came, or from the JSON chunks of a packed result.

    The built-in templates pack their rows (``packed()`` in _common.sql.j2):
    each result row holds a chunk of them as a JSON array, its count and the
    column names. A chunk the server cut short (longer than max_allowed_packet)
    is an error, never fewer users.
    """
    if header != PACKED:
        return header, rows
    columns = ["user_id", "user_name", "user_registration"]
    unpacked: list[Any] = []
    for count, names, chunk in rows:
        try:
            part = json.loads(_text(chunk))
        except (TypeError, ValueError):
            part = None
        if not isinstance(part, list) or len(part) != count:
            raise CohortError(f"{purpose}: a chunk of the result was cut short; the "
                              "server's max_allowed_packet is too small for it")
        unpacked.extend(part)
        columns = json.loads(_text(names))
    return columns, unpacked


def user_values(metric: str, params: MetricParams, wiki: str, user_ids: list[int],
                header: list[str], rows: list[Sequence]) -> list[UserValue]:
    """Turn one metric query's rows into a value per user, in ``user_ids`` order.

    A user's first row holds the value (``namespace_of_edits``: every row of
    the user, one per namespace). The name is decoded once per user.
    """
    value_of = _value_function(metric, params, header[3:])
    found: dict[int, Any] = {}
    if metric == "namespace_of_edits":
        last, entry = None, []
        for row in rows:
            user_id = row[0]
            if user_id != last:  # a user's rows usually come together
                last = user_id
                if type(user_id) is not int:
                    user_id = int(user_id)
                entry = found.get(user_id)
                if entry is None:
                    entry = found[user_id] = []
            entry.append(row)
    else:
        for row in rows:
            user_id = row[0] if type(row[0]) is int else int(row[0])
            if user_id not in found:
                found[user_id] = row
    needs = needs_registration(metric, params)
    values = []
    append = values.append
    for user_id in user_ids:
        result = found.get(user_id)
        if result is None:
            append(UserValue(user_id, None, wiki, None, NO_SUCH_USER))
            continue
        first = result if metric != "namespace_of_edits" else result[0]
        name = _text(first[1])
        if needs and first[2] is None:
            append(UserValue(user_id, name, wiki, None, NO_REGISTRATION))
            continue
        value, reason = value_of(result)
        append(UserValue(user_id, name, wiki, value, reason))
    return values


def _value_function(metric: str, params: MetricParams,
                    columns: list[str]) -> Callable[[Any], tuple[Any, str | None]]:
    """How a user's row (for namespace_of_edits, rows) gives its value and reason."""
    if metric == "namespace_of_edits":
        def namespaces(rows: list[Sequence]) -> tuple[Any, None]:
            counts = {}
            for row in rows:
                namespace, edits = row[3], row[4]
                if namespace is not None:
                    counts[namespace if type(namespace) is int else int(namespace)] = (
                        edits if type(edits) is int else int(edits))
            return dict(sorted(counts.items())), None
        return namespaces
    if metric == "revert_rate":
        def rate(row: Sequence) -> tuple[Any, str | None]:
            revisions, reverted = _number(_text(row[3])), _number(_text(row[4]))
            if not revisions:
                return None, "no revisions in the window"
            return reverted / revisions, None
        return rate
    if metric == "time_to_threshold":
        fewer = f"fewer than {params.b} revisions"

        def minutes(row: Sequence) -> tuple[Any, str | None]:
            value = row[3]
            if value is None:
                return None, fewer
            return (value if type(value) is int else int(_number(_text(value)))), None
        return minutes
    if METRICS[metric].kind == "fields":
        named = list(enumerate(columns, 3))

        def fields(row: Sequence) -> tuple[Any, None]:
            value = {}
            for at, name in named:
                field = row[at]
                if type(field) is not int:
                    field = _number(_text(field))
                    if name != "first":  # a timestamp; the others are numbers
                        field = int(field or 0)
                value[name] = field
            return value, None
        return fields

    def number(row: Sequence) -> tuple[Any, None]:
        value = row[3]
        return (value if type(value) is int else int(_number(_text(value)) or 0)), None
    return number


def run_metric(session: Session, wiki: str, metric: str, params: MetricParams,
               user_ids: list[int], query_folder: Path | None) -> tuple[list[str], list[Any]]:
    """The metric's rows for these users on ``wiki``: one query.

    A replica whose ``revision`` lacks an index a template names (another
    schema version, or a view) refuses the hint; the metric is then measured
    again without hints, with a warning, rather than not at all.
    """
    purpose = f"metric {metric!r}"
    sql = render_metric(metric, params, user_ids, query_folder)
    try:
        result = session.run(wiki, sql, purpose=purpose)
    except CohortError as e:
        cause = e.__cause__
        if not (cause is not None and cause.args and cause.args[0] == MISSING_INDEX):
            raise
        log.warning("%s on wiki %r: %s; measured again without index hints", purpose, wiki,
                    cause.args[-1])
        sql = render_metric(metric, params, user_ids, query_folder, index_hints=False)
        result = session.run(wiki, sql, purpose=purpose)
    return unpack(*result, f"{purpose} on wiki {wiki!r}")


def measure(config: Config, cohort_name: str, metric: str, params: MetricParams, *,
            span: Span | None = None, explode: Mapping[str, str] | None = None,
            wiki: str | None = None, connect: Callable[[DatabaseConfig, str], Any] | None = None) -> Measurement:
    """Every member's value and the cohort's aggregates. Raises CohortError.

    ``wiki``: the wiki of members that name none (default: the explode value of
    the database's wiki_db_placeholder, else its db). ``connect``: how to open a
    connection to a wiki (default ``connect_wiki``).
    """
    cohorts = getattr(config, "cohorts", {})
    if cohort_name not in cohorts:
        raise CohortError(f"unknown cohort {cohort_name!r}; the config {config.path} has: "
                          f"{', '.join(cohorts) or 'none'}")
    cohort = cohorts[cohort_name]
    explode = dict(explode or {})
    if params.window == "input" and params.start is None:
        if span is None:
            raise CohortError(f"metric {metric!r} with window 'input' needs start and end")
        params = replace(params, start=span.start.strftime(TIMESTAMP),
                         end=span.end.strftime(TIMESTAMP))
    session = Session(config.databases[cohort.db], connect)
    try:
        wiki = (check_wiki(wiki, "--wiki") if wiki
                else default_wiki(session.database, explode))
        members = cohort_members(config, cohort, session, span, explode)
        resolved = resolve(members, wiki, session)
        users: list[UserValue] = []
        for member_wiki, user_ids in resolved.ids.items():
            header, rows = run_metric(session, member_wiki, metric, params, user_ids,
                                      config.query_folder)
            users.extend(user_values(metric, params, member_wiki, user_ids, header, rows))
        for member_wiki, name in resolved.unknown_names:
            users.append(UserValue(None, name, member_wiki, None, NO_SUCH_USER))
    except ReportUpdaterError:
        raise
    finally:
        session.close()
    unknown = [(u.wiki, u.user_name if u.user_id is None else str(u.user_id))
               for u in users if u.reason == NO_SUCH_USER]
    return Measurement(metric, cohort_name, params, users,
                       aggregate(metric, [u.value for u in users]), unknown,
                       session.executed)
