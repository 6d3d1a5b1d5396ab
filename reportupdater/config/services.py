"""Build the connections a config names: databases, Graphite and StatsD.

Input: the raw top-level sections and a ``Collector``. Output: frozen
``DatabaseConfig``s, a ``GraphiteConfig`` and a ``StatsdConfig``; an entry
with an error is left out after its problems are reported.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .model import DatabaseConfig, DatabaseEngine, GraphiteConfig, StatsdConfig
from .problems import Collector
from .sections import DATABASE, GRAPHITE, STATSD
from .source import SourceError, load_yaml, read_text
from .spec import Int, Invalid, Text

_SHARD_HOST, _SHARD_PORT = Text(empty=False), Int(1, 65535)


def read_databases(raw: dict, query_folder: Path, c: Collector) -> dict[str, DatabaseConfig]:
    result = {}
    for name, entry in raw.items():
        name = str(name)
        where = ("databases", name)
        if not isinstance(entry, dict):
            c.add(f"database {name!r} must be a mapping, not {entry!r}", path=where)
            continue
        before = len(c.problems)
        DATABASE.warn_unknown(entry, c.sink(where), name=name)
        values, _ = DATABASE.read(entry, c.sink(where), name=name)
        shards = _shards(name, values, entry, c)
        if c.errors_since(before):
            continue
        path = values["path"]
        if path is not None and values["engine"] is DatabaseEngine.DUCKDB \
                and not os.path.isabs(path):
            path = str(query_folder / path)
        result[name] = DatabaseConfig(key=name, **{**values, "path": path, "shards": shards})
    return result


def _shards(name: str, values: dict[str, Any], entry: dict, c: Collector
            ) -> Mapping[str, tuple[str, int]]:
    """The fixed shard map of an auto_find_db_shard database; checks what it needs."""
    where = ("databases", name)
    shards: dict[str, tuple[str, int]] = {}
    if values["engine"] is DatabaseEngine.DUCKDB:
        pass  # path is optional: an in-memory database reads files itself
    elif values["auto_find_db_shard"]:
        if "wiki_db_placeholder" not in entry and "db" not in entry:
            c.add(f"database {name!r}: auto_find_db_shard needs wiki_db_placeholder "
                  "(the explode placeholder holding the wiki database name)",
                  path=where + ("wiki_db_placeholder",))
        for shard, spec in (values["shards"] or {}).items():
            try:
                if not isinstance(spec, dict):
                    raise Invalid("not a mapping")
                port = _SHARD_PORT.parse(spec.get("port", 3306))
                shards[str(shard)] = (_SHARD_HOST.parse(spec.get("host")), port)
            except Invalid:
                c.add(f"database {name!r}: shard {shard!r} needs a host string and a "
                      f"port number, not {spec!r}", path=where + ("shards", str(shard)))
    else:
        for k in ("host", "db"):
            if k not in entry:
                c.add(f"database {name!r} has no {k!r} (needed unless "
                      "auto_find_db_shard is true)", path=where)
    return MappingProxyType(shards)


def read_graphite(raw: dict | None, query_folder: Path, c: Collector
                  ) -> GraphiteConfig | None:
    if raw is None:
        return None
    before = len(c.problems)
    GRAPHITE.warn_unknown(raw, c.sink(("graphite",)))
    values, _ = GRAPHITE.read(raw, c.sink(("graphite",)))
    lookups = {}
    for placeholder, file_name in (values["lookups"] or {}).items():
        table = _lookup(str(placeholder), file_name, query_folder, c)
        if table is not None:
            lookups[str(placeholder)] = table
    if c.errors_since(before):
        return None
    return GraphiteConfig(**{**values, "lookups": MappingProxyType(lookups)})


def _lookup(placeholder: str, file_name: Any, query_folder: Path, c: Collector
            ) -> Mapping[str, str] | None:
    """A Graphite lookup file: explode value -> the name used in metric paths."""
    where = ("graphite", "lookups", placeholder)
    if not isinstance(file_name, str) or not file_name:
        c.add(f"graphite lookup for {placeholder!r} must be a file name, not {file_name!r}",
              path=where)
        return None
    path = query_folder / file_name
    try:
        text = read_text(path)
    except SourceError as e:
        c.add(f"graphite lookup file {str(path)!r} cannot be read: {e.message}", path=where)
        return None
    try:
        table, _ = load_yaml(text)
    except SourceError as e:
        at = f" (line {e.line})" if e.line else ""
        c.add(f"graphite lookup file {str(path)!r} is not valid YAML: {e.message}{at}",
              path=where)
        return None
    if not isinstance(table, dict):
        c.add(f"graphite lookup file {str(path)!r} must map values to names", path=where)
        return None
    return MappingProxyType({str(k): str(v) for k, v in table.items()})


def read_statsd(raw: dict | None, c: Collector) -> StatsdConfig | None:
    if raw is None:
        return None
    STATSD.warn_unknown(raw, c.sink(("statsd",)))
    values, ok = STATSD.read(raw, c.sink(("statsd",)))
    return StatsdConfig(**values) if ok else None
