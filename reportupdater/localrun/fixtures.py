"""Fixture tables: find the tables a query reads in a folder, load them into DuckDB.

Input: a fixture folder laid out as ``DIR/<schema>/<table>.jsonl|csv|tsv|parquet``
(with an optional ``<table>.schema.yaml`` of column types beside each file),
a table reference from a query and the current database. Output: a DuckDB
table with the reference's own name. Names match case-insensitively, as in
Hive and MariaDB on Linux. Types are inferred, except that text never
becomes a date or a timestamp on its own (Hive's ``dt`` is a string): a
schema file says when a column is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import FixtureError

EXTENSIONS = ("jsonl", "csv", "tsv", "parquet")
SCHEMA_SUFFIX = ".schema.yaml"
# Types DuckDB would guess from text; a fixture's text stays text unless a
# schema file says otherwise.
_GUESSED_FROM_TEXT = {"date", "time", "timestamp", "timestamp with time zone",
                      "timestamp_ns", "timestamp_ms", "timestamp_s", "time with time zone"}

_BINARY_TYPES = {"BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB"}


@dataclass(frozen=True)
class TableRef:
    """A table as a query names it: ``schema.name`` or a bare ``name``."""

    schema: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _entry(directory: Path, name: str, is_dir: bool = False) -> Path | None:
    """The entry of ``directory`` called ``name``, whatever its case."""
    if not directory.is_dir():
        return None
    exact = directory / name
    if exact.exists() and exact.is_dir() == is_dir:
        return exact
    wanted = name.lower()
    for entry in sorted(directory.iterdir()):
        if entry.name.lower() == wanted and entry.is_dir() == is_dir:
            return entry
    return None


def search_folders(folder: Path, ref: TableRef, current_db: str | None) -> list[Path]:
    """Where a reference is looked for, in order (as paths, existing or not)."""
    if ref.schema:
        return [_entry(folder, ref.schema, is_dir=True) or folder / ref.schema.lower()]
    places = []
    if current_db:
        places.append(_entry(folder, current_db, is_dir=True) or folder / current_db.lower())
    places.append(folder)
    return places


def find_fixture(folder: Path, ref: TableRef, current_db: str | None) -> Path:
    """The file holding ``ref``. Raises FixtureError naming the paths looked for."""
    places = search_folders(folder, ref, current_db)
    for place in places:
        for extension in EXTENSIONS:
            found = _entry(place, f"{ref.name}.{extension}")
            if found is not None:
                return found
    looked = " and ".join(f"{place / ref.name.lower()}.{{{','.join(EXTENSIONS)}}}"
                          for place in places)
    where = "" if ref.schema or not current_db else f" (current database {current_db!r})"
    raise FixtureError(f"table {ref} has no fixture{where}: looked for {looked}")


def schema_types(path: Path, dialect: str) -> dict[str, str]:
    """Column types from ``<table>.schema.yaml`` as DuckDB types, by lower-cased name.

    The file is ``columns: {name: type}``, with types written in the query's
    dialect (``string``, ``bigint``, ``struct<editor:string>``...).
    """
    schema_path = path.with_name(path.name.rsplit(".", 1)[0] + SCHEMA_SUFFIX)
    schema_path = _entry(path.parent, schema_path.name) or schema_path
    if not schema_path.exists():
        return {}
    import sqlglot
    from sqlglot import exp

    try:
        raw = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise FixtureError(f"cannot read {schema_path}: {e}") from e
    columns = raw.get("columns") if isinstance(raw, dict) else None
    if not isinstance(columns, dict):
        raise FixtureError(f"{schema_path} must hold 'columns:', a map of column name to "
                           f"type, not {raw!r}")
    types = {}
    for name, type_text in columns.items():
        try:
            built = exp.DataType.build(str(type_text), dialect=dialect)
        except (sqlglot.errors.ParseError, ValueError) as e:
            raise FixtureError(f"{schema_path}: column {name!r} has type {type_text!r}, "
                               f"which is not a {dialect} type: {e}") from e
        # MediaWiki's text is VARBINARY; its driver's bytes are written as UTF-8 text.
        binary = built.this.name in _BINARY_TYPES
        types[str(name).lower()] = "VARCHAR" if binary else built.sql("duckdb")
    return types


def _plain_type(t: Any) -> str:
    """A DuckDB type as SQL, with date and time types guessed from text made VARCHAR."""
    if t.id in _GUESSED_FROM_TEXT:
        return "VARCHAR"
    if t.id == "struct":
        return "STRUCT(" + ", ".join(f"{quote(n)} {_plain_type(c)}"
                                     for n, c in t.children) + ")"
    if t.id == "list":
        return _plain_type(t.children[0][1]) + "[]"
    return str(t)


def _reader(path: Path) -> tuple[str, str]:
    extension = path.suffix.lower().lstrip(".")
    if extension == "jsonl":
        return "read_json", "format = 'newline_delimited'"
    if extension == "csv":
        return "read_csv", "header = true"
    if extension == "tsv":
        return "read_csv", "header = true, delim = '\\t', quote = ''"
    return "read_parquet", ""


def load_table(connection: Any, schema: str, name: str, path: Path, dialect: str) -> None:
    """Create ``schema.name`` in ``connection`` from the fixture file ``path``."""
    import duckdb

    declared = schema_types(path, dialect)
    function, options = _reader(path)
    source = f"{function}({_literal(str(path))}{', ' + options if options else ''})"
    try:
        inferred = connection.execute(f"SELECT * FROM {source} LIMIT 0").description
    except duckdb.Error as e:
        raise FixtureError(f"cannot read fixture {path}: {_first_line(e)}") from e
    names = [column[0] for column in inferred]
    unknown = sorted(set(declared) - {n.lower() for n in names})
    if unknown:
        raise FixtureError(f"{path.name.rsplit('.', 1)[0]}{SCHEMA_SUFFIX} beside {path} "
                           f"types column(s) {', '.join(unknown)}, which the fixture does "
                           f"not have (its columns: {', '.join(names)})")
    types = {n: declared.get(n.lower()) or _plain_type(t) for n, t, *_ in inferred}
    if function == "read_json":
        struct = "{" + ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in types.items()) + "}"
        source = f"{function}({_literal(str(path))}, {options}, columns = {struct})"
        select = "*"
    elif function == "read_csv":
        struct = "{" + ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in types.items()) + "}"
        source = f"{function}({_literal(str(path))}, {options}, types = {struct})"
        select = "*"
    else:
        select = ", ".join(f"CAST({quote(n)} AS {t}) AS {quote(n)}" for n, t in types.items())
    try:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        connection.execute(f"CREATE OR REPLACE TABLE {quote(schema)}.{quote(name)} AS "
                           f"SELECT {select} FROM {source}")
    except duckdb.Error as e:
        raise FixtureError(f"cannot load fixture {path}: {_first_line(e)}") from e


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
