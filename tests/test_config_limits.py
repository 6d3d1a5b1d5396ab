"""No config can crash or hang the loader: each bad input is a problem with file, line and key."""

import os

import pytest

from reportupdater.config import load_config
from reportupdater.config.source import MAX_FILE_BYTES
from reportupdater.errors import ConfigError

SCRIPT = "#!/bin/sh\nprintf 'date\\tn\\n%s\\t1\\n' \"$1\"\n"
REPORT = "type: script, granularity: days, starts: 2026-01-01, execute: s"


def one_report(make_folder, settings: str, top: str = ""):
    """A folder whose report ``r`` (a script) has extra ``settings``; its only error."""
    folder = make_folder(f"{top}reports:\n    r: {{{REPORT}{settings}}}\n",
                         executables={"s": SCRIPT})
    return folder, load_config(folder)


@pytest.mark.parametrize("settings, message", [
    (", starts: 2026-02-30", "starts '2026-02-30' is not a date (YYYY-MM-DD): day is out of "
                             "range for month"),
    (", starts: 1899-12-31", "starts 1899-12-31 is outside the dates this tool handles, "
                             "1900-01-01 to 2200-12-31"),
    (", starts: 2201-01-01", "starts 2201-01-01 is outside the dates this tool handles, "
                             "1900-01-01 to 2200-12-31"),
    (", granularity: weeks, starts: 0001-01-01",
     "starts 0001-01-01 is outside the dates this tool handles, 1900-01-01 to 2200-12-31"),
    (", starts: 9999-12-31", "starts 9999-12-31 is outside the dates this tool handles, "
                             "1900-01-01 to 2200-12-31"),
    (", starts: !!timestamp 2026-13-01", "starts '2026-13-01' is not a date (YYYY-MM-DD): "
                                         "month must be in 1..12"),
    (", lag: 100000000000000000000", "lag must be a whole number of seconds <= 315360000, "
                                     "not 100000000000000000000"),
    (", lag: !!int 12x", "lag must be a whole number of seconds >= 0, not '12x'"),
    (", lag: !!bool maybe", "lag must be a whole number of seconds >= 0, not 'maybe'"),
    (", max_data_points: 100000000000000000000",
     "max_data_points must be a whole number of days <= 109938, not 100000000000000000000 "
     "(the days from 1900 to 2200)"),
    (", granularity: months, max_data_points: 5000",
     "max_data_points must be a whole number of months <= 3612, not 5000 (the months from "
     "1900 to 2200)"),
    (", timeout: .nan", "timeout must be a number of seconds > 0, not nan"),
    (", timeout: .inf", "timeout must be a number of seconds > 0, not inf"),
    (", timeout: 1.0e+300", "timeout must be a number of seconds <= 315360000, not 1e+300"),
    (", explode_by: {k: []}", "the inline list of 'k' has no values"),
    (", execute: " + "x" * 300, "execute '" + "x" * 300 + "' cannot be a file name: it is "
                                "307 bytes long, more than the 200 a file name may take"),
    (', execute: "s\\0"', "execute must be a file name relative to the query folder, not "
                          "'s\\x00'"),
    (', group: "wheel\\0"', "group must be a group name, not 'wheel\\x00'"),
])
def test_bad_report_values_are_problems_naming_line_report_and_key(make_folder, settings,
                                                                    message):
    folder, config = one_report(make_folder, settings)
    assert config.reports == ()
    (problem,) = config.errors
    assert (problem.file, problem.line, problem.report) == (str(folder / "config.yaml"), 2, "r")
    assert problem.message == message


@pytest.mark.parametrize("top, key, message", [
    ("jobs: !!bool maybe\n", "jobs", "'jobs' must be a whole number >= 1, not 'maybe'"),
    ("jobs: 100000\n", "jobs", "'jobs' must be a whole number <= 1000, not 100000"),
    ("max_run_seconds: 0\n", "max_run_seconds",
     "'max_run_seconds' must be a whole number of seconds >= 1, not 0"),
    ("max_run_seconds: 1.5\n", "max_run_seconds",
     "'max_run_seconds' must be a whole number of seconds >= 1, not 1.5"),
    ("graphite: {host: g, port: 70000}\n", "graphite.port",
     "graphite port must be a whole number <= 65535, not 70000"),
    ("graphite: {host: g, retries: 100000000000000000000}\n", "graphite.retries",
     "graphite retries must be a whole number <= 100, not 100000000000000000000"),
    ("graphite: {host: g, timeout: .inf}\n", "graphite.timeout",
     "graphite timeout must be a number of seconds > 0, not inf"),
    ("databases: {d: {engine: duckdb, use_x1: 1}}\n", "databases.d.use_x1",
     "database 'd': use_x1 must be true or false, not 1"),
    ('databases: {d: {host: "h\\0", db: x}}\n', "databases.d.host",
     "database 'd': host must be a string without control characters, not 'h\\x00'"),
    ('databases: {d: {host: h, db: x, creds_file: "\\ud800"}}\n', "databases.d.creds_file",
     "database 'd': creds_file must be a string without control characters, not '\\ud800'"),
])
def test_bad_top_level_values_are_problems(make_folder, top, key, message):
    folder, config = one_report(make_folder, "", top)
    (problem,) = config.errors
    assert (problem.line, problem.report, problem.key, problem.message) == (1, None, key,
                                                                            message)


def test_max_run_seconds_defaults_to_six_hours_and_can_be_set(make_folder):
    assert one_report(make_folder, "")[1].max_run_seconds == 21600
    assert one_report(make_folder, "", "max_run_seconds: 600\n")[1].max_run_seconds == 600


def alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\nreports: {}\n"


@pytest.mark.parametrize("text, message", [
    ("reports:\n  r: {description: " + "[" * 600 + "]" * 600 + "}\n",
     ":2: the config is not valid YAML: mappings and lists nest more than 64 levels deep"),
    ("reports:\n" + "".join(f"{'  ' * (i + 1)}k{i}:\n" for i in range(600)) + "x: 1\n",
     ":64: the config is not valid YAML: mappings and lists nest more than 64 levels deep"),
    (alias_bomb(), ":6: the config is not valid YAML: it expands to more than 100000 values "
                   "once aliases are expanded (an alias bomb?)"),
    ("".join(f"a{i}: &a{i} [*a{i - 1}]\n" if i else "a0: &a0 [x]\n" for i in range(70))
     + "reports: {}\n",
     ":64: the config is not valid YAML: mappings and lists nest more than 64 levels deep "
     "once aliases are expanded"),
    ("reports: &r {r: *r}\n",
     ":1: the config is not valid YAML: alias *r refers to a mapping or list that contains it"),
])
def test_yaml_bombs_and_deep_nesting_are_refused(make_folder, text, message):
    folder = make_folder(text)
    with pytest.raises(ConfigError) as error:
        load_config(folder)
    assert str(error.value) == f"{folder / 'config.yaml'}{message}"


@pytest.mark.parametrize("data, message", [
    ("reports:\n  caf\xe9: {}\n".encode("latin-1"),
     ":2: the config cannot be read: it is not UTF-8 text: byte 0xe9 on line 2 cannot be "
     "decoded; save it as UTF-8"),
    ("reports: {}\n".encode("utf-16"),
     ":1: the config cannot be read: it is not UTF-8 text (it looks like UTF-16): byte 0xff "
     "on line 1 cannot be decoded; save it as UTF-8"),
    (b"reports: {}\n#" + b"x" * MAX_FILE_BYTES,
     ": the config cannot be read: it is larger than 1048576 bytes"),
])
def test_unreadable_config_text_is_refused(make_folder, data, message):
    folder = make_folder("")
    (folder / "config.yaml").write_bytes(data)
    with pytest.raises(ConfigError) as error:
        load_config(folder)
    assert str(error.value) == f"{folder / 'config.yaml'}{message}"


def test_a_fifo_as_config_is_refused_without_blocking(make_folder):
    folder = make_folder("")
    (folder / "config.yaml").unlink()
    os.mkfifo(folder / "config.yaml")
    # Opening a FIFO for reading blocks until a writer comes: give it one that writes nothing.
    writer = os.open(folder / "config.yaml", os.O_RDWR)
    try:
        with pytest.raises(ConfigError, match="the config cannot be read: it is not a "
                                              "regular file"):
            load_config(folder)
    finally:
        os.close(writer)


def test_long_names_and_values_are_refused_before_any_file_is_made(make_folder):
    name = "r" * 300
    folder = make_folder(f"""
        reports:
            {name}: {{{REPORT}}}
            v: {{{REPORT}, explode_by: {{k: {"v" * 201}}}}}
        """, executables={"s": SCRIPT})
    config = load_config(folder)
    assert config.reports == ()
    assert [p.message for p in config.errors] == [
        f"report name {name!r} is refused: it is 300 bytes long, more than the 200 a file "
        "name may take (it becomes a file name in the output folder)",
        f"explode value {'v' * 201!r} from the inline list is refused: it is 201 bytes long, "
        "more than the 200 a file name may take (values become file names and are pasted "
        "into queries)"]


def test_unpaired_surrogates_cannot_become_file_names(make_folder):
    folder = make_folder(f"""
        reports:
            "r\\ud800": {{{REPORT}}}
        """, executables={"s": SCRIPT})
    (problem,) = load_config(folder).errors
    assert problem.message == ("report name 'r\\ud800' is refused: it contains the unpaired "
                               "surrogate '\\ud800' (it becomes a file name in the output "
                               "folder)")


@pytest.mark.parametrize("command", [["validate"], ["run", "--dry-run"]])
def test_empty_explode_list_fails_validate_and_run(run_cli, make_folder, tmp_path, command):
    folder, _ = one_report(make_folder, ", explode_by: {k: []}")
    extra = [tmp_path / "out"] if command[0] == "run" else []
    result = run_cli(command[0], folder, *extra, *command[1:])
    assert result.code == 1
    assert "key 'explode_by.k': the inline list of 'k' has no values" in result.out + result.err
