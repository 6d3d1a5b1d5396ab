"""The README is short and its links hold; docs/cli.md's --help blocks match the CLI."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import readme  # noqa: E402  (tools/readme.py)

CLI_DOC = REPO / "docs" / "cli.md"
HELP_BLOCK = re.compile(r"<!-- help: ([^ ]*) -->\n```\n(.*?)```\n<!-- end help -->", re.S)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def help_blocks() -> dict[str, str]:
    return dict(HELP_BLOCK.findall(CLI_DOC.read_text()))


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    found, fence = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fence = not fence
        if fence or not line.startswith("#"):
            continue
        slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in found:
            n += 1
            anchor = f"{slug}-{n}"
        found.add(anchor)
    return found


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(path.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.is_file():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no such heading)")
    return broken


def test_every_command_has_a_help_block():
    commands = readme.commands()
    assert {"run", "rerun", "push", "validate", "render", "status"} <= set(commands)
    blocks = help_blocks()
    missing = [c for c in ["reportupdater", *commands] if c not in blocks]
    assert missing == [], "add a section with <!-- help: COMMAND --> to docs/cli.md"
    assert sorted(blocks) == sorted(["reportupdater", *commands]), "a block names no command"


def test_every_help_block_is_the_live_help():
    blocks = help_blocks()
    live = {command: readme.help_text(command) for command in blocks}
    assert blocks == live, "docs/cli.md is stale: run `make readme`"


def test_the_generator_finds_nothing_stale():
    result = subprocess.run([sys.executable, "tools/readme.py", "--check"], cwd=REPO,
                            capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, "")


def test_the_readme_is_at_most_250_lines():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250


def test_the_readme_links_to_the_reference_in_docs():
    text = (REPO / "README.md").read_text()
    linked = {target.partition("#")[0] for target in LINK.findall(text)}
    documents = {f"docs/{path.name}" for path in (REPO / "docs").glob("*.md")}
    assert documents <= linked, f"not linked from README.md: {sorted(documents - linked)}"


@pytest.mark.parametrize("document", ["README.md", *sorted(
    f"docs/{path.name}" for path in (REPO / "docs").glob("*.md"))])
def test_every_link_resolves(document):
    assert broken_links(REPO / document) == []


def test_a_link_to_a_missing_heading_is_broken(tmp_path):
    (tmp_path / "a.md").write_text("# Logs: `--log-format text|json`\n## Twice\n## Twice\n")
    (tmp_path / "b.md").write_text(
        "[ok](a.md#logs---log-format-textjson) [ok](a.md#twice-1) [no](a.md#twice-2) "
        "[no](c.md) [ok](https://example.org/x.md)\n")
    assert broken_links(tmp_path / "b.md") == ["a.md#twice-2 (no such heading)",
                                               "c.md (no such file)"]


def test_the_readme_set_up_is_two_commands():
    readme_text = (REPO / "README.md").read_text()
    setup = readme_text.split("## Set-up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in setup.strip().splitlines()] == [
        "make demo", "make test"]
    ci = (REPO / ".ci/run").read_text()
    assert "make test" in ci
