"""Rerun requests are never dropped silently: rejected with a reason, or narrowed."""

import re

import pytest

from conftest import read_tsv

# Prints the value in the file "version" beside it, so a rerun shows.
SCRIPT = """\
#!/bin/sh
printf 'date\\tv\\n%s\\t%s\\n' "$1" "$(cat "$(dirname "$0")/version")"
"""


@pytest.fixture
def folder(make_folder):
    return make_folder("""
        reports:
            r: {type: script, granularity: days, starts: 2026-11-01}
            m: {type: script, granularity: months, starts: 2026-09-01, execute: r}
        """, files={"version": "1\n"}, executables={"r": SCRIPT})


def request(folder, name, text):
    path = folder / ".reruns" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def rejected(folder):
    folder = folder / ".reruns" / "rejected"
    return {p.name: p.read_text() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def test_a_request_naming_only_unknown_reports_is_moved_to_rejected(folder, tmp_path,
                                                                   run_cli):
    path = request(folder, "typo.txt", "2026-11-01\n2026-11-02\nrr\nmm\n")
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-03")
    assert result.code == 0
    target = folder / ".reruns/rejected/typo.txt"
    reason = "it names only unknown report(s) 'rr', 'mm'"
    assert f"rerun request {path} is rejected and moved to {target}: {reason}" in result.err
    assert not path.exists()
    files = rejected(folder)
    assert files["typo.txt"] == "2026-11-01\n2026-11-02\nrr\nmm\n"
    assert files["typo.txt.reason"].startswith("rejected at ")
    assert files["typo.txt.reason"].endswith(f": {reason}\n")


def test_a_request_entirely_in_the_future_is_moved_to_rejected(folder, tmp_path, run_cli):
    path = request(folder, "future.txt", "2062-11-01\n2062-11-02\nr\n")
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-03")
    assert result.code == 0
    reason = ("its dates 2062-11-01 to 2062-11-02 are all after now (2026-11-03 00:00 UTC): "
              "no data exists for them yet")
    assert (f"rerun request {path} is rejected and moved to "
            f"{folder}/.reruns/rejected/future.txt: {reason}") in result.err
    assert rejected(folder)["future.txt"] == "2062-11-01\n2062-11-02\nr\n"
    assert rejected(folder)["future.txt.reason"].endswith(f": {reason}\n")


def test_a_second_rejected_request_of_the_same_name_keeps_the_first(folder, tmp_path,
                                                                   run_cli):
    request(folder, "x", "2026-11-01\n2026-11-02\nnope\n")
    run_cli("run", folder, tmp_path / "out", "--now", "2026-11-03")
    request(folder, "x", "2026-11-01\n2026-11-02\nnada\n")
    run_cli("run", folder, tmp_path / "out", "--now", "2026-11-03")
    files = rejected(folder)
    assert sorted(files) == ["x", "x.1", "x.1.reason", "x.reason"]
    assert (files["x"], files["x.1"]) == ("2026-11-01\n2026-11-02\nnope\n",
                                          "2026-11-01\n2026-11-02\nnada\n")


def test_unknown_reports_of_a_request_are_rejected_and_the_others_rerun(folder, tmp_path,
                                                                       run_cli):
    out = tmp_path / "out"
    assert run_cli("run", folder, out, "--now", "2026-11-03").code == 0
    (folder / "version").write_text("2\n")
    path = request(folder, "mixed.txt", "2026-11-01\n2026-11-02\nr\nrr\n")
    result = run_cli("run", folder, out, "--now", "2026-11-03")
    assert result.code == 0
    assert (f"rerun request {path} names unknown report(s) 'rr' (the config "
            f"{folder}/config.yaml has no such key): they are moved to "
            f"{folder}/.reruns/rejected/mixed.txt; the other reports are rerun") in result.err
    assert read_tsv(out / "r.tsv")[1:] == [["2026-11-01", "2"], ["2026-11-02", "1"]]
    assert not path.exists()
    assert rejected(folder)["mixed.txt"] == "2026-11-01\n2026-11-02\nrr\n"


def test_a_request_partly_in_the_future_is_done_up_to_now_and_kept(folder, tmp_path,
                                                                  run_cli):
    out = tmp_path / "out"
    assert run_cli("run", folder, out, "-r", "r", "--now", "2026-11-05").code == 0
    (folder / "version").write_text("2\n")
    path = request(folder, "fix.txt", "2026-11-02\n2026-11-10\nr\n")
    result = run_cli("run", folder, out, "-r", "r", "--now", "2026-11-05")
    assert result.code == 0
    assert (f"rerun request {path}: 2026-11-05 to 2026-11-10 could not be done yet for "
            "report(s) 'r' (not due at 2026-11-05 00:00 UTC); the request is kept for a "
            "later run") in result.err
    assert [row[1] for row in read_tsv(out / "r.tsv")[1:]] == ["1", "2", "2", "2"]
    assert path.read_text() == "2026-11-05\n2026-11-10\nr\n"
    # Later runs do the rest as it becomes due, then delete the request.
    (folder / "version").write_text("3\n")
    assert run_cli("run", folder, out, "-r", "r", "--now", "2026-11-07").code == 0
    assert path.read_text() == "2026-11-07\n2026-11-10\nr\n"
    assert run_cli("run", folder, out, "-r", "r", "--now", "2026-11-11").code == 0
    assert not path.exists() and rejected(folder) == {}
    assert [row[1] for row in read_tsv(out / "r.tsv")[1:]] == ["1", "2", "2", "2", "3", "3",
                                                               "3", "3", "3", "3"]


def test_reports_due_up_to_different_dates_keep_their_own_remainder(folder, tmp_path,
                                                                   run_cli):
    path = request(folder, "both.txt", "2026-10-01\n2026-11-10\nr\nm\n")
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-11-05")
    assert result.code == 0
    # r (days) is done up to 11-05, m (months) up to 11-01.
    assert path.read_text() == "2026-11-05\n2026-11-10\nr\n"
    other = folder / ".reruns/both_from_20261101000000.txt"
    assert other.read_text() == "2026-11-01\n2026-11-10\nm\n"
    assert (f"rerun request {path}: 2026-11-01 to 2026-11-10 could not be done yet for "
            "report(s) 'm' (not due at 2026-11-05 00:00 UTC)") in result.err


def test_a_report_not_run_keeps_its_part_of_the_request(folder, tmp_path, run_cli):
    path = request(folder, "both.txt", "2026-11-01\n2026-11-02\nr\nm\n")
    result = run_cli("run", folder, tmp_path / "out", "-r", "r", "--now", "2026-11-05")
    assert result.code == 0 and "could not be done" not in result.err
    assert path.read_text() == "2026-11-01\n2026-11-02\nm\n"


def test_validate_lists_pending_and_rejected_requests(folder, tmp_path, run_cli):
    request(folder, "gone.txt", "2026-11-01\n2026-11-02\nnope\n")
    run_cli("run", folder, tmp_path / "out", "--now", "2026-11-03")
    request(folder, "a.txt", "2026-11-01\n2026-11-02\nr\nm\n")
    request(folder, "b.txt", "2026-11-01\n2099-01-01\nr\n")
    request(folder, "c.txt", "2099-01-01\n2099-01-02\nr\n")
    result = run_cli("validate", folder)
    assert result.code == 0
    r = folder / ".reruns"
    lines = result.out.splitlines()
    stamp = re.search(r"rejected at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ):", lines[4]).group(1)
    assert lines == [
        f"note: {r}/a.txt: pending: the next run recomputes 2026-11-01 to 2026-11-02 of "
        "'r', 'm'",
        f"warning: {r}/b.txt: ends after now ({lines[1].split('now (')[1][:20]}): runs "
        "recompute the dates up to now and keep the rest for later",
        f"note: {r}/b.txt: pending: the next run recomputes 2026-11-01 to 2099-01-01 of 'r'",
        f"warning: {r}/c.txt: its dates 2099-01-01 to 2099-01-02 are all after now "
        f"({lines[3].split('now (')[1][:20]}): no data exists for them yet; the next run "
        "moves it to .reruns/rejected/",
        f"warning: {r}/rejected/gone.txt: rejected at {stamp}: it names only unknown "
        "report(s) 'nope'. Correct it and move "
        "it back to .reruns/, or delete it",
        f"0 errors, 3 warnings in {folder}/config.yaml (2 of 2 reports usable)",
    ]


def test_validate_with_only_pending_requests_is_ok(folder, run_cli):
    request(folder, "a.txt", "2026-11-01\n2026-11-02\nr\n")
    result = run_cli("validate", folder)
    assert result.code == 0
    assert result.out.splitlines()[-1] == f"OK: {folder}/config.yaml (2 of 2 reports usable)"
