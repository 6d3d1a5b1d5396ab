"""Regenerate the generated parts of README.md (``make readme``).

Two kinds of blocks are kept up to date, and tests/test_readme.py fails when
README.md differs from what this script would write:

    <!-- include: docs/hive.md -->        ...the file's text...   <!-- end include -->
    <!-- help: run -->                    ...`reportupdater run --help`...  <!-- end help -->
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reportupdater import cli  # noqa: E402

BLOCK = re.compile(r"(<!-- (include|help): ([^ ]*) -->\n)(.*?)(<!-- end \2 -->)", re.S)


def help_text(command: str) -> str:
    out = io.StringIO()
    args = ["--help"] if command == "reportupdater" else [command, "--help"]
    with contextlib.redirect_stdout(out):
        cli.main(args)
    return out.getvalue()


def expand(text: str) -> str:
    def replace(match: re.Match) -> str:
        opening, kind, target, _, closing = match.groups()
        if kind == "include":
            body = (ROOT / target).read_text().rstrip("\n") + "\n"
        else:
            body = "```\n" + help_text(target).rstrip("\n") + "\n```\n"
        return opening + body + closing

    return BLOCK.sub(replace, text)


def main() -> int:
    path = ROOT / "README.md"
    text = path.read_text()
    new = expand(text)
    if "--check" in sys.argv:
        return 0 if new == text else 1
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
