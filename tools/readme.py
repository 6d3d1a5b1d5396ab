"""Regenerate the ``--help`` blocks of the docs (``make readme``).

A block in README.md or docs/*.md looks like this, and is replaced by the live
output of ``reportupdater run --help`` (``reportupdater`` alone for the top
level):

    <!-- help: run -->
    ...
    <!-- end help -->

The help comes from running ``python -m reportupdater`` on this checkout, so
nothing here depends on how the CLI is built inside. ``--check`` writes
nothing and exits 1, naming the stale files, when a file differs from what
this script would write; tests/test_readme.py checks the same.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- help: ([^ ]*) -->\n)(.*?)(<!-- end help -->)", re.S)


def help_text(command: str) -> str:
    """What ``reportupdater [COMMAND] --help`` prints, from this checkout's code."""
    args = ["--help"] if command == "reportupdater" else [command, "--help"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "reportupdater", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"reportupdater {' '.join(args)} exited with status "
                           f"{result.returncode}: {result.stderr.strip()}")
    return result.stdout


def commands() -> list[str]:
    """The commands ``reportupdater --help`` lists, in its order."""
    text = help_text("reportupdater")
    section = text.split("positional arguments:\n", 1)[1].split("\n\n", 1)[0]
    # A long name stands alone on its line, its help wrapped below it.
    return [m.group(1) for m in re.finditer(r"^ {4}(\S+)(?:  |$)", section, re.M)]


def expand(text: str) -> str:
    """``text`` with every help block filled with the live help."""
    def replace(match: re.Match) -> str:
        opening, command, _, closing = match.groups()
        return opening + "```\n" + help_text(command).rstrip("\n") + "\n```\n" + closing

    return BLOCK.sub(replace, text)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def main() -> int:
    stale = []
    for path in documents():
        text = path.read_text()
        if not BLOCK.search(text):
            continue
        new = expand(text)
        if new != text:
            stale.append(path.relative_to(ROOT))
            if "--check" not in sys.argv:
                path.write_text(new)
    if "--check" in sys.argv and stale:
        print("stale, run `make readme`:", ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
