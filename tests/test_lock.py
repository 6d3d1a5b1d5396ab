"""Runs that can't hang silently: max_run_seconds, the lock's holder, stuck runs."""

import pytest

from reportupdater.config import load_config

SCRIPT = "#!/bin/sh\nprintf 'date\\tn\\n%s\\t1\\n' \"$1\"\n"
REPORT = """
reports:
    r: {type: script, granularity: days, starts: 2026-11-01}
"""


def test_max_run_seconds_defaults_to_six_hours(make_folder):
    config = load_config(make_folder(REPORT, executables={"r": SCRIPT}))
    assert config.max_run_seconds == 21600
    assert config.problems == ()


def test_max_run_seconds_is_read(make_folder):
    config = load_config(make_folder("max_run_seconds: 90\n" + REPORT,
                                     executables={"r": SCRIPT}))
    assert config.max_run_seconds == 90


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "true", "six hours"])
def test_a_bad_max_run_seconds_is_an_error_naming_the_value(make_folder, value):
    folder = make_folder(f"max_run_seconds: {value}\n" + REPORT, executables={"r": SCRIPT})
    config = load_config(folder)
    shown = {"true": "True", "1.5": "1.5", "six hours": "'six hours'"}.get(value, value)
    assert [str(p) for p in config.errors] == [
        f"{folder}/config.yaml:1, key 'max_run_seconds': 'max_run_seconds' must be a whole "
        f"number of seconds >= 1, not {shown} (the default, 21600, is used)"]
    assert config.max_run_seconds == 21600
