"""Explode values pasted into queries are plain unless a report opts in with explode_values: any."""

import pytest

from reportupdater.config import ExplodeValues, load_config

SCRIPT = "#!/bin/sh\n"
OPT_IN = ("values pasted into sql and hive queries may hold only ASCII letters, digits, _, - "
          "and . unless the report sets explode_values: any (in the report or in defaults); "
          "then quote them in a Jinja template with | sql_quote")
PATH_NOTE = "values become file names and are pasted into queries"


def folder_with(make_folder, report: str, values: str, defaults: str = "{}"):
    return make_folder(f"""
        databases: {{d: {{engine: duckdb}}}}
        defaults: {defaults}
        reports:
            r: {{db: d, granularity: days, starts: 2026-01-01, explode_by: {{v: values.txt}}
                {report}}}
        """, files={"values.txt": values, "r.sql": "SELECT '{v}' AS x",
                    "r.hql": "SELECT '{v}' AS x"}, executables={"r": SCRIPT})


@pytest.mark.parametrize("report_type", ["sql", "hive"])
@pytest.mark.parametrize("value, reason", [
    ("wiki.t WHERE 0=1; DROP TABLE victim", "it contains ' '"),
    ("0 OR 1=1", "it contains ' '"),
    ("a;b", "it contains ';'"),
    ("it's", "it contains \"'\""),
    ("a--b", "it contains '--', which starts a comment in HiveQL"),
    ("caf\u00e9", "it contains '\u00e9'"),
])
def test_query_reports_take_plain_values_only(make_folder, report_type, value, reason):
    folder = folder_with(make_folder, f", type: {report_type}", f"enwiki\n\n{value}\n")
    config = load_config(folder)
    assert config.reports == ()
    (problem,) = config.errors
    assert (problem.report, problem.key) == ("r", "explode_by.v")
    assert problem.message == (f"explode value {value!r} from file "
                               f"'{folder / 'values.txt'}' line 3 is refused: {reason} "
                               f"({OPT_IN})")


def test_the_inline_list_is_named_as_the_source(make_folder):
    folder = make_folder("""
        databases: {d: {engine: duckdb}}
        reports:
            r: {db: d, granularity: days, starts: 2026-01-01, explode_by: {v: "a, 1=1"}}
        """, files={"r.sql": "SELECT '{v}'"})
    (problem,) = load_config(folder).errors
    assert problem.message == (f"explode value '1=1' from the inline list is refused: it "
                               f"contains '=' ({OPT_IN})")


@pytest.mark.parametrize("where", ["report", "defaults"])
def test_explode_values_any_opts_in(make_folder, where):
    report, defaults = ((", explode_values: any", "{}") if where == "report"
                        else ("", "{explode_values: any}"))
    folder = folder_with(make_folder, report, "O'Brien\nen wiki\n", defaults)
    config = load_config(folder)
    assert not config.problems, config.problems
    (report,) = config.reports
    assert report.explode_values is ExplodeValues.ANY
    assert dict(report.explode_by) == {"v": ("O'Brien", "en wiki")}


@pytest.mark.parametrize("value, reason", [
    ("../etc", "it contains '..'"), ("a/b", "it contains '/'"), (".", "it is '.'"),
    ("x" * 201, "it is 201 bytes long, more than the 200 a file name may take"),
])
def test_any_still_refuses_values_that_are_unsafe_as_file_names(make_folder, value, reason):
    folder = folder_with(make_folder, ", explode_values: any", f"{value}\n")
    (problem,) = load_config(folder).errors
    assert problem.message.endswith(f"is refused: {reason} (values become file names)")


@pytest.mark.parametrize("report_type, extra", [
    ("sql", ""), ("sql", ", explode_values: any"), ("hive", ", explode_values: any"),
    ("script", ""), ("script", ", explode_values: any"),
])
@pytest.mark.parametrize("char", ["\x80", "\x85", "\x9f"])
def test_c1_control_characters_are_refused_in_every_report_type(make_folder, report_type,
                                                                 extra, char):
    folder = folder_with(make_folder, f", type: {report_type}{extra}", f"en{char}wiki\n")
    (problem,) = load_config(folder).errors
    assert f"is refused: it contains the control character {char!r} (" in problem.message


def test_script_reports_keep_their_rules_unless_they_name_the_key(make_folder):
    folder = folder_with(make_folder, ", type: script", "en wiki\nx=1\n")
    (report,) = load_config(folder).reports
    assert dict(report.explode_by) == {"v": ("en wiki", "x=1")}
    assert report.explode_values is None

    folder = folder_with(make_folder, ", type: script, explode_values: plain", "en wiki\n")
    (problem,) = load_config(folder).errors
    assert problem.message.endswith(f"is refused: it contains ' ' ({OPT_IN})")

    folder = folder_with(make_folder, ", type: script", "it's\n")
    (problem,) = load_config(folder).errors
    assert problem.message.endswith(f"is refused: it contains \"'\" ({PATH_NOTE})")


def test_unknown_explode_values_setting_is_named(make_folder):
    folder = folder_with(make_folder, ", explode_values: quoted", "enwiki\n")
    (problem,) = load_config(folder).errors
    assert (problem.key, problem.message) == (
        "explode_values", "explode_values 'quoted' is not one of plain, any")


def test_the_demo_and_plain_values_pass(make_folder):
    folder = folder_with(make_folder, "", "enwiki\nbe_x_oldwiki\nzh-min-nan.wikipedia\n")
    (report,) = load_config(folder).reports
    assert report.explode_values is ExplodeValues.PLAIN
