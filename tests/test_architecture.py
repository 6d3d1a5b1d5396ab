"""The layout: the CLI sits on top of the library, and modules import no cycle.

Every module of the package is parsed (not imported), and every import in
it, at any depth (in functions and ``if TYPE_CHECKING:`` blocks too), is
resolved to the package's module it names.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "reportupdater"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str) -> str | None:
    """The package module ``name`` is, or is in (``a.b.func`` -> ``a.b``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(module: str) -> set[str]:
    """The package's modules that ``module`` imports."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from . import x`` imports the submodule x when there is one, else
            # the package itself (``resolve`` finds which).
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = resolve(name)
            if target is not None and target != module:
                found.add(target)
    return found


GRAPH = {module: imports(module) for module in MODULES}


def test_the_walk_sees_the_imports_it_should():
    assert "reportupdater.cli" in GRAPH["reportupdater.__main__"]
    assert "reportupdater.cli.common" in GRAPH["reportupdater.cli.run"]
    assert "reportupdater.api" in GRAPH["reportupdater.cli.run"]
    assert "reportupdater.publish.graphite" in GRAPH["reportupdater.cli.run"]  # in a function
    assert "reportupdater.templates" in GRAPH["reportupdater.pipeline"]  # from . import x
    assert "reportupdater.timeline" in GRAPH["reportupdater.publish.push"]  # from .. import x


def test_only_the_cli_imports_the_cli():
    outside = {module: sorted(t for t in targets if t.startswith("reportupdater.cli"))
               for module, targets in GRAPH.items()
               if not module.startswith("reportupdater.cli")
               and module != "reportupdater.__main__"}  # `python -m reportupdater` is the CLI
    assert {m: t for m, t in outside.items() if t} == {}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_every_module_opens_with_a_docstring():
    missing = [m for m, path in MODULES.items()
               if not ast.get_docstring(ast.parse(path.read_text()))]
    assert missing == []


def test_each_command_is_the_module_the_cli_imports_for_it():
    from reportupdater.cli import COMMAND_NAMES, command_module

    assert [command_module(name).NAME for name in COMMAND_NAMES] == list(COMMAND_NAMES)
    modules = {path.stem for path in (PACKAGE / "cli").glob("*.py")}
    assert modules - {"__init__", "common"} == {command_module(n).__name__.rpartition(".")[2]
                                                for n in COMMAND_NAMES}


def test_the_hourly_run_loads_no_other_command(tmp_path):
    """``run`` of a config without cohorts or alerts imports neither, nor other commands."""
    (tmp_path / "config.yaml").write_text(
        "reports:\n  daily:\n    type: script\n    granularity: days\n"
        "    starts: 2026-01-01\n")
    (tmp_path / "daily").write_text("#!/bin/sh\nprintf 'date\\tn\\n%s\\t1\\n' \"$1\"\n")
    (tmp_path / "daily").chmod(0o755)
    script = ("import sys\nfrom reportupdater.cli import main\n"
              f"code = main(['run', {str(tmp_path)!r}, {str(tmp_path / 'out')!r}, "
              "'--now', '2026-01-03', '--no-graphite', '-l', 'error'])\n"
              "print(code, sorted(m for m in sys.modules if m.startswith('reportupdater.')))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True).stdout
    code, _, modules = loaded.partition(" ")
    modules = {m.removeprefix("reportupdater.") for m in ast.literal_eval(modules)}
    assert code == "0" and "cli.run" in modules
    assert (tmp_path / "out" / "daily.tsv").read_text().count("\n") == 3
    unwanted = {m for m in modules if m.startswith(("cli.", "cohorts", "alerts.settings"))}
    assert unwanted == {"cli.run", "cli.common"}
