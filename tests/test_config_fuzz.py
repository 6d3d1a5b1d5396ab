"""Fuzz: mutated real configs never make `validate` or `run --dry-run` crash or hang.

Hypothesis mutates the demo config and a few others (text, values and bytes)
with a fixed seed and a bounded number of examples, and calls the real entry
point in-process. Every outcome must be an exit status of 0, 1 or 2 with no
traceback printed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import signal
import textwrap

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from reportupdater import cli

SEEDS = [
    (REPO / "config.yaml").read_text(),
    textwrap.dedent("""\
        hive: {backend: hiveserver2, host: h, auth: kerberos, configuration: {a.b: 1}}
        databases:
            mw: {auto_find_db_shard: true, wiki_db_placeholder: wiki, creds_file: x.cnf,
                 shards: {s1: {host: h, port: 3311}}}
            events: {engine: duckdb, path: e.duckdb}
        graphite: {host: g, port: 2003, prefix: a.b, lookups: {wiki: sitematrix.yaml}}
        statsd: {host: s, port: 8125}
        jobs: 2
        max_run_seconds: 3600
        defaults: {starts: 2026-10-01, lag: 3600}
        reports:
            weekly_toggles: {granularity: weeks, db: events, timeout: 30}
            monthly_summary: {type: script, granularity: months, explode_by: {wiki: wikis.txt}}
            toggles_by_editor:
                type: hive
                granularity: days
                hive: {backend: cli, command: [hive, -e, "{query}"]}
                explode_by: {wiki: "enwiki, dewiki"}
                graphite: {path: "x.{wiki}.{_metric}", metrics: {toggles: toggles}}
        """),
]

TOKENS = [
    "!!bool maybe", "!!int 12x", "!!float x", "!!timestamp 2026-13-01", "2026-02-30",
    "0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01", "100000000000000000000",
    "-1", "0", ".nan", ".inf", "[" * 700, "{" * 300, "&a [x]", "*a", "*nope", "<<: *a",
    "{k: []}", "[]", "{}", "null", "~", '"\\0"', '"\\x85"', '"\\ud800"', "'", '"', "`",
    "a b", "../x",
    "x" * 300, "hours", "weeks", "months", "script", "hive", "any", "plain", "\t", ": :",
    "? [a]", "!!python/object:os.system x", "%YAML 1.1", "---", "...", "|", ">-",
]
VALUES = [
    None, True, 0, -1, 10 ** 20, 1.5, float("nan"), "", "x" * 300, "a/b", "2026-02-30",
    "0001-01-01", [], {}, {"k": []}, ["a", "a"], [[[[[]]]]], "wikis.txt", "O'Brien",
    "en\x85wiki", "hours", "sql", "duckdb", "hiveserver2", "LDAP", "{query}", "any",
]
ENCODINGS = ["utf-8", "utf-8", "utf-8", "latin-1", "utf-16"]


def paths(data, prefix=()):
    """Every key path in parsed YAML data, for replacing one value."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield prefix + (key,)
            yield from paths(value, prefix + (key,))


@st.composite
def mutated_configs(draw) -> bytes:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["token", "delete", "value", "duplicate"]))
        if kind == "value":
            try:  # an earlier mutation may have left text that is not YAML
                data = yaml.safe_load(text)
            except Exception:  # noqa: BLE001 - PyYAML raises more than YAMLError
                continue
            keys = list(paths(data))
            if not keys:
                continue
            path = draw(st.sampled_from(keys))
            target = data
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = draw(st.sampled_from(VALUES))
            text = yaml.safe_dump(data, allow_unicode=True)
            continue
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        if kind == "token":
            text = text[:start] + draw(st.sampled_from(TOKENS)) + text[end:]
        elif kind == "delete":
            text = text[:start] + text[end:]
        else:
            text = text[:start] + text[start:end] * draw(st.integers(2, 50)) + text[end:]
    return text.encode(draw(st.sampled_from(ENCODINGS)), "replace")


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "queries"
    shutil.copytree(REPO / "queries", folder)
    return folder


class Hang(Exception):
    """A command did not finish."""


def call(*args: str) -> tuple[int, str]:
    """The real entry point, with its output captured and a guard against hangs."""
    out = io.StringIO()

    def hung(signum, frame):
        raise Hang(f"reportupdater {' '.join(args)} did not finish")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = cli.main(list(args))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, "_reportupdater", False):
                root.removeHandler(handler)
    return code, out.getvalue()


@settings(derandomize=True, max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(config=mutated_configs())
def test_mutated_configs_never_crash_validate_or_dry_run(fuzz_folder, config):
    (fuzz_folder / "config.yaml").write_bytes(config)
    for args in (["validate", str(fuzz_folder)],
                 ["run", str(fuzz_folder), str(fuzz_folder.parent / "output"), "--dry-run",
                  "--now", "2026-11-01T00:00:00"]):
        code, output = call(*args)
        assert code in (0, 1, 2), output
        assert "Traceback" not in output, output
