"""Turn a rendered MariaDB or Hive query into DuckDB statements.

Input: the query text as a run would execute it, and its dialect. Output:
the statements to run on DuckDB (``SET`` and ``ADD JAR`` dropped, ``USE db``
turned into a change of the current database) and the tables each reads.
sqlglot does the transpiling; the rules here fix what transpiling alone
gets wrong, so that results equal the real engines' (see
docs/developing.md, "Known differences").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import LocalRunError
from .fixtures import TableRef

# DuckDB macros that give MariaDB functions sqlglot leaves as they are their
# MariaDB meaning (created on every local connection).
MACROS = (
    # UNIX_TIMESTAMP('2026-10-01 12:00:00') or of a MediaWiki '20261001120000'.
    # MariaDB gives a DECIMAL with 6 decimals for text (MediaWiki's timestamps
    # are VARBINARY): 1790843400.000000.
    "CREATE OR REPLACE MACRO unix_timestamp(x) AS CAST(epoch(CASE "
    "WHEN regexp_full_match(CAST(x AS VARCHAR), '[0-9]{14}') "
    "THEN strptime(CAST(x AS VARCHAR), '%Y%m%d%H%M%S') "
    "ELSE CAST(CAST(x AS VARCHAR) AS TIMESTAMP) END) AS DECIMAL(20, 6))",
)

# MariaDB's `/` and AVG return a DECIMAL with 4 more decimals than their
# operand (div_precision_increment); DuckDB returns a DOUBLE.
MYSQL_DIVISION_SCALE = 4


@dataclass
class Statement:
    """One DuckDB statement to execute, and the tables it reads."""

    sql: str
    tables: list[TableRef]
    database: str | None  # the current database when it runs


def parse_error_message(error: Exception, dialect: str) -> str:
    details = getattr(error, "errors", None)
    if details:
        first = details[0]
        return (f"sqlglot cannot parse the query as {dialect}: {first.get('description')} "
                f"(line {first.get('line')}, column {first.get('col')}, near "
                f"{first.get('highlight')!r})")
    return f"sqlglot cannot transpile the query from {dialect}: {_plain(str(error))}"


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def transpile(text: str, dialect: str, database: str | None) -> list[Statement]:
    """The DuckDB statements for ``text``. Raises LocalRunError (without the texts;
    the caller adds them)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    try:
        parsed = sqlglot.parse(text, read=dialect)
    except sqlglot.errors.SqlglotError as e:
        raise LocalRunError(parse_error_message(e, dialect)) from e
    statements = []
    for tree in parsed:
        if tree is None or isinstance(tree, (exp.Set, exp.Command)):
            continue  # SET hive.x=...; ADD JAR ...: nothing to do locally
        if isinstance(tree, exp.Use):
            database = tree.this.name if tree.this else database
            continue
        if dialect == "mysql":
            tree = _mysql_rules(tree)
        try:
            sql = tree.sql("duckdb", unsupported_level=ErrorLevel.RAISE)
            duck = sqlglot.parse_one(sql, read="duckdb")
        except sqlglot.errors.SqlglotError as e:
            raise LocalRunError(parse_error_message(e, dialect)) from e
        duck = _duckdb_rules(duck)
        statements.append(Statement(duck.sql("duckdb", pretty=True), table_refs(duck),
                                    database))
    if not statements:
        raise LocalRunError("the query has no statement to execute")
    return statements


def _projections(tree):
    """The expressions each SELECT returns (under their aliases)."""
    from sqlglot import exp

    for select in tree.find_all(exp.Select):
        for projection in select.expressions:
            yield projection.this if isinstance(projection, exp.Alias) else projection


def _mysql_rules(tree):
    from sqlglot import exp

    # DIV truncates toward zero, whatever its operands; DuckDB's // floors
    # integers and divides decimals.
    for node in list(tree.find_all(exp.IntDiv)):
        node.replace(exp.Cast(this=exp.func("trunc", exp.Div(this=node.this.copy(),
                                                             expression=node.expression.copy())),
                              to=exp.DataType.build("BIGINT")))
    # MariaDB sorts a GROUP BY's groups when there is no ORDER BY; DuckDB
    # returns them in any order.
    if isinstance(tree, exp.Select) and tree.args.get("group") and not tree.args.get("order"):
        tree = tree.order_by(*[e.copy() for e in tree.args["group"].expressions], copy=False)

    for node in list(_projections(tree)):
        if isinstance(node, (exp.Div, exp.Avg)):
            decimal = exp.DataType.build(f"DECIMAL(38, {MYSQL_DIVISION_SCALE})")
            wrapped = exp.Cast(this=exp.Round(this=node.copy(), decimals=exp.Literal.number(
                MYSQL_DIVISION_SCALE)), to=decimal)
            node.replace(wrapped)
    return tree


def _unquote_format(text: str) -> str:
    """A Java date format's quoted literals ('T', 'Z') as strftime takes them."""
    return re.sub(r"'([^']*)'", lambda m: m.group(1).replace("%z", "Z"), text)


def _duckdb_rules(tree):
    from sqlglot import exp

    # sqlglot keeps the quotes of Java's quoted literals ("yyyy-MM-dd'T'HH")
    # in the strftime format, where they are matched as characters.
    for node in tree.find_all(exp.StrToTime, exp.TimeToStr):
        fmt = node.args.get("format")
        if isinstance(fmt, exp.Literal) and fmt.is_string and "'" in fmt.this:
            fmt.replace(exp.Literal.string(_unquote_format(fmt.this)))

    # Hive's unix_timestamp() is a BIGINT; DuckDB's epoch() a DOUBLE.
    for node in list(tree.find_all(exp.TimeToUnix, exp.StrToUnix)):
        if not isinstance(node.parent, exp.Cast):
            node.replace(exp.Cast(this=node.copy(), to=exp.DataType.build("BIGINT")))
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name.lower() == "epoch" and not isinstance(node.parent, exp.Cast):
            node.replace(exp.Cast(this=node.copy(), to=exp.DataType.build("BIGINT")))
    return tree


def table_refs(tree) -> list[TableRef]:
    """The tables a statement reads, in order, without CTEs and table functions."""
    from sqlglot import exp

    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    refs: list[TableRef] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # read_csv('...') and other table functions
        schema = table.db or None
        if schema is None and table.name.lower() in ctes:
            continue
        ref = TableRef(schema, table.name)
        if ref not in refs:
            refs.append(ref)
    return refs
