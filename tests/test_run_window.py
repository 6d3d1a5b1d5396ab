"""run --from/--until: a window of intervals, and nothing outside it touched."""

from conftest import read_tsv

DATED = """\
#!/bin/sh
printf 'date\\tn\\n%s\\t%s\\n' "$1" "${N:-1}"
"""


def folder_with(make_folder, extra=""):
    return make_folder(f"""
        reports:
            r:
                type: script
                granularity: days
                starts: 2026-10-01
                {extra}
        """, executables={"r": DATED})


def test_a_window_runs_only_its_intervals(make_folder, tmp_path, run_cli):
    folder = folder_with(make_folder)
    out = tmp_path / "out"
    result = run_cli("run", folder, out, "--now", "2026-11-01", "--from", "2026-10-10",
                     "--until", "2026-10-13")
    assert result.code == 0, result.err
    assert read_tsv(out / "r.tsv") == [["date", "n"], ["2026-10-10", "1"], ["2026-10-11", "1"],
                                       ["2026-10-12", "1"]]


def test_a_window_never_trims_rows_outside_it(make_folder, tmp_path, run_cli):
    folder = folder_with(make_folder, "max_data_points: 2")
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.tsv").write_text("date\tn\n2026-10-01\t7\n2026-10-30\t7\n")
    result = run_cli("run", folder, out, "--now", "2026-11-01", "--from", "2026-10-31",
                     "--until", "2026-11-01")
    assert result.code == 0, result.err
    assert read_tsv(out / "r.tsv") == [["date", "n"], ["2026-10-01", "7"], ["2026-10-30", "7"],
                                       ["2026-10-31", "1"]]


def test_a_window_keeps_rerun_requests(make_folder, tmp_path, run_cli):
    folder = folder_with(make_folder)
    out = tmp_path / "out"
    assert run_cli("rerun", folder, "2026-10-02", "2026-10-03", "--now", "2026-11-01").code == 0
    assert run_cli("run", folder, out, "--now", "2026-11-01", "--from", "2026-10-10",
                   "--until", "2026-10-11").code == 0
    assert len(list((folder / ".reruns").iterdir())) == 1


def test_until_must_come_after_from(make_folder, tmp_path, run_cli):
    folder = folder_with(make_folder)
    result = run_cli("run", folder, tmp_path / "out", "--from", "2026-10-10", "--until",
                     "2026-10-10")
    assert result.code == 2
    assert "--until 2026-10-10 must come after --from 2026-10-10 (it is exclusive)" in result.err
    assert not (tmp_path / "out").exists()
