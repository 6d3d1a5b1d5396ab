"""Scaffold fixtures: the tables and columns a rendered query reads, one example row each.

Input: a rendered query, its dialect, the current database and the interval
it was rendered for. Output: a ``ScaffoldTable`` per table (its columns,
struct fields as dotted paths such as ``event.editor``), and
``write_fixtures`` writes ``DIR/<schema>/<table>.jsonl`` with one row that
has every column, nested fields in nested objects. Existing files are never
overwritten. A column the query does not qualify is given to the first
table of its SELECT, which is right for the usual one-table report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LocalRunError
from ..intervals import Interval
from .fixtures import TableRef, find_fixture
from .transpile import parse_error_message


@dataclass
class ScaffoldTable:
    ref: TableRef
    columns: list[str] = field(default_factory=list)  # dotted paths for struct fields

    def add(self, path: str) -> None:
        if path not in self.columns:
            self.columns.append(path)


def tables_read(text: str, dialect: str) -> list[ScaffoldTable]:
    """Every table the query reads and the columns it uses of each, in order."""
    import sqlglot
    from sqlglot import exp

    try:
        trees = [t for t in sqlglot.parse(text, read=dialect)
                 if t is not None and not isinstance(t, (exp.Set, exp.Command, exp.Use))]
    except sqlglot.errors.SqlglotError as e:
        raise LocalRunError(parse_error_message(e, dialect)) from e
    tables: dict[TableRef, ScaffoldTable] = {}
    for tree in trees:
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        for select in tree.find_all(exp.Select):
            sources: dict[str, TableRef] = {}  # alias or name -> table
            first = None
            for table in select.find_all(exp.Table):
                if table.parent_select is not select or not isinstance(table.this,
                                                                       exp.Identifier):
                    continue
                if not table.db and table.name.lower() in ctes:
                    sources[(table.alias or table.name).lower()] = None
                    continue
                ref = TableRef(table.db or None, table.name)
                tables.setdefault(ref, ScaffoldTable(ref))
                sources[(table.alias or table.name).lower()] = ref
                first = first or ref
            for sub in select.find_all(exp.Subquery):
                if sub.parent_select is select and sub.alias:
                    sources[sub.alias.lower()] = None
            outputs = {p.alias_or_name.lower() for p in select.expressions}
            projected = {id(c) for p in select.expressions for c in p.find_all(exp.Column)}
            for column in select.find_all(exp.Column):
                if column.parent_select is not select:
                    continue
                parts = [p.name for p in column.parts]
                if (len(parts) == 1 and parts[0].lower() in outputs
                        and id(column) not in projected):
                    continue  # ORDER BY or GROUP BY an output name
                owner = first
                if len(parts) > 1 and parts[0].lower() in sources:
                    owner = sources[parts[0].lower()]
                    parts = parts[1:]
                elif len(parts) > 2 and ".".join(parts[:2]).lower() in {
                        str(r).lower() for r in sources.values() if r}:
                    owner = next(r for r in sources.values()
                                 if r and str(r).lower() == ".".join(parts[:2]).lower())
                    parts = parts[2:]
                if owner is None or not parts or parts[0] == "*":
                    continue
                tables[owner].add(".".join(parts))
    return list(tables.values())


_PARTITIONS = ("year", "month", "day", "hour")


def example_value(name: str, interval: Interval) -> object:
    """A plausible value for a column, so that the row passes the query's filters."""
    leaf = name.rsplit(".", 1)[-1].lower()
    start = interval.start
    if leaf in _PARTITIONS:
        return getattr(start, leaf)
    if leaf.endswith("timestamp"):
        return start.strftime("%Y%m%d%H%M%S")
    if leaf in ("dt", "meta.dt") or leaf.endswith("_dt"):
        return start.strftime("%Y-%m-%dT%H:%M:%SZ")
    if leaf.startswith(("is_", "has_")):
        return False
    if leaf.endswith(("_id", "_count", "count", "_len", "_bytes")):
        return 0
    return "example"


def example_row(columns: list[str], interval: Interval) -> dict:
    row: dict = {}
    for path in columns:
        parts = path.split(".")
        node = row
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node.setdefault(parts[-1], example_value(path, interval))
    return row


def fixture_path(folder: Path, ref: TableRef, current_db: str | None) -> Path:
    """Where a new fixture for ``ref`` goes: its schema's folder, else the current
    database's, else the folder itself."""
    schema = ref.schema or current_db
    base = folder / schema.lower() if schema else folder
    return base / f"{ref.name.lower()}.jsonl"


def write_fixtures(folder: Path, tables: list[ScaffoldTable], current_db: str | None,
                   interval: Interval) -> list[tuple[ScaffoldTable, Path, bool]]:
    """Write one example row per table; (table, path, written) for each, never
    overwriting a fixture that exists (in any of the formats)."""
    from ..errors import FixtureError

    done = []
    for table in tables:
        try:
            existing = find_fixture(folder, table.ref, current_db)
        except FixtureError:
            existing = None
        if existing is not None:
            done.append((table, existing, False))
            continue
        path = fixture_path(folder, table.ref, current_db)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as f:  # "x": never overwrite
            f.write(json.dumps(example_row(table.columns, interval), ensure_ascii=False)
                    + "\n")
        done.append((table, path, True))
    return done
