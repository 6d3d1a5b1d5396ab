"""The README is the reference: its generated parts match the code."""

import argparse
import subprocess
import sys

from conftest import REPO
from reportupdater import cli


def test_readme_is_up_to_date():
    result = subprocess.run([sys.executable, "tools/readme.py", "--check"], cwd=REPO)
    assert result.returncode == 0, "README.md is stale: run `make readme`"


def test_every_command_and_option_is_documented():
    readme = (REPO / "README.md").read_text()
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    for name, sub in subparsers.choices.items():
        assert f"<!-- help: {name} -->" in readme, f"command {name} has no help block"
        for action in sub._actions:
            if action.help == argparse.SUPPRESS:
                continue
            for option in action.option_strings:
                assert option in readme, f"{name} {option} is not in README.md"


def test_the_readme_set_up_is_two_commands():
    readme = (REPO / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in setup.strip().splitlines()] == [
        "make demo", "make test"]
    ci = (REPO / ".ci/run").read_text()
    assert "make test" in ci
