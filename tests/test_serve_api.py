"""The read-only API of ``reportupdater serve``, against a real running server on
the demo's output: every endpoint equals the TSVs and the CLI's own output."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from servers.web import DEMO_NOW, cli, make_demo

REPORTS = ["toggles_by_editor", "weekly_toggles", "toggles_by_edit_count", "monthly_summary"]
SERIES = [("toggles_by_editor", {"wiki": w}, f"toggles_by_editor/{w}.tsv")
          for w in ("enwiki", "dewiki", "eswiki")]
SERIES += [("toggles_by_edit_count", {"editor": e}, f"toggles_by_edit_count/{e}.tsv")
           for e in ("wikitext_2010", "wikitext_2017")]
SERIES += [("weekly_toggles", {}, "weekly_toggles.tsv"),
           ("monthly_summary", {}, "monthly_summary.tsv")]


def tsv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(), newline=""), delimiter="\t"))


def as_text(value) -> str:
    """A JSON cell back as the TSV wrote it."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def data_url(report: str, explode: dict[str, str], **params: str) -> str:
    query = [f"explode.{k}={v}" for k, v in explode.items()]
    query += [f"{k}={v}" for k, v in params.items()]
    return f"/api/reports/{report}/data" + ("?" + "&".join(query) if query else "")


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for folder in folders for p in sorted(folder.rglob("*"))}


def test_healthz(served_demo):
    answer = served_demo.get("/healthz")
    assert (answer.status, answer.json()) == (
        200, {"status": "ok", "reports": 4, "output_folder_exists": True})


def test_reports_lists_every_report_with_its_status(served_demo, demo_output):
    answer = served_demo.get("/api/reports")
    assert answer.status == 200
    reports = answer.json()["reports"]
    assert [r["name"] for r in reports] == REPORTS
    editor = reports[0]
    assert editor["type"] == "sql" and editor["granularity"] == "days"
    assert editor["explode_by"] == {"wiki": ["enwiki", "dewiki", "eswiki"]}
    assert (editor["first_date"], editor["last_date"]) == ("2026-08-01", "2026-10-31")
    assert editor["intervals"] == {"done": 276, "expected": 276, "missing": 0,
                                   "oldest_missing": None}
    assert editor["state"] == "fresh"
    assert (editor["owner"], editor["ticket"], editor["description"], editor["alerts"],
            editor["last_failure"]) == ([], None, None, None, None)
    # The same code as `status`: every field of its JSON entry is there, equal.
    document = json.loads(cli("status", demo_output.queries, demo_output.output, "--format",
                              "json", "--now", DEMO_NOW).stdout)
    for entry, status in zip(reports, document["reports"]):
        assert {k: entry[k] for k in status} == status


def test_one_report(served_demo):
    answer = served_demo.get("/api/reports/weekly_toggles")
    assert answer.status == 200
    assert answer.json()["name"] == "weekly_toggles"
    assert answer.json()["granularity"] == "weeks"


def test_status_is_the_status_command_json(served_demo, demo_output):
    result = cli("status", demo_output.queries, demo_output.output, "--format", "json",
                 "--now", DEMO_NOW)
    assert result.returncode == 0, result.stderr
    assert served_demo.get("/api/status").json() == json.loads(result.stdout)


@pytest.mark.parametrize("report, explode, file", SERIES)
def test_json_equals_the_tsv(served_demo, demo_output, report, explode, file):
    expected = tsv(demo_output.output / file)
    document = served_demo.get(data_url(report, explode)).json()
    assert document["report"] == report and document["explode"] == explode
    assert [c["name"] for c in document["columns"]] == expected[0]
    assert document["columns"][0]["type"] == "date"
    assert [[as_text(v) for v in row] for row in document["rows"]] == expected[1:]


def test_json_types_numbers_as_numbers(served_demo):
    document = served_demo.get(data_url("monthly_summary", {})).json()
    assert document["columns"] == [{"name": "month", "type": "date"},
                                   {"name": "events", "type": "number"},
                                   {"name": "wikis", "type": "number"},
                                   {"name": "enabled_share", "type": "number"}]
    assert document["rows"][0] == ["2026-08-01", 1270, 3, 0.706]


@pytest.mark.parametrize("kind, delimiter", [("csv", ","), ("tsv", "\t")])
@pytest.mark.parametrize("report, explode, file", SERIES)
def test_csv_and_tsv_equal_the_tsv(served_demo, demo_output, report, explode, file, kind,
                                   delimiter):
    answer = served_demo.get(data_url(report, explode, format=kind))
    assert answer.status == 200
    assert answer.headers["content-type"].startswith(
        "text/csv" if kind == "csv" else "text/tab-separated-values")
    rows = list(csv.reader(io.StringIO(answer.text, newline=""), delimiter=delimiter))
    assert rows == tsv(demo_output.output / file)
    if kind == "tsv":
        assert answer.body == (demo_output.output / file).read_bytes()


def test_every_series_when_no_explode_is_given(served_demo, demo_output):
    document = served_demo.get(data_url("toggles_by_editor", {})).json()
    assert [c["name"] for c in document["columns"]] == [
        "date", "wiki", "editor", "enabled", "toggles"]
    assert document["explode"] == {}
    expected = []
    for wiki in ("enwiki", "dewiki", "eswiki"):
        rows = tsv(demo_output.output / "toggles_by_editor" / f"{wiki}.tsv")[1:]
        expected += [[row[0], wiki, *row[1:]] for row in rows]
    expected.sort(key=lambda row: row[0])  # stable: wikis in config order within a date
    assert [[as_text(v) for v in row] for row in document["rows"]] == expected


def test_from_to_and_columns(served_demo, demo_output):
    url = data_url("toggles_by_editor", {"wiki": "dewiki"}, **{
        "from": "2026-09-10", "to": "2026-09-20", "columns": "toggles,editor"})
    document = served_demo.get(url).json()
    rows = tsv(demo_output.output / "toggles_by_editor" / "dewiki.tsv")[1:]
    expected = [[r[0], r[3], r[1]] for r in rows if "2026-09-10" <= r[0] < "2026-09-20"]
    assert [c["name"] for c in document["columns"]] == ["date", "toggles", "editor"]
    assert [[as_text(v) for v in row] for row in document["rows"]] == expected
    assert len(expected) > 10


def test_query_is_what_render_prints(served_demo, demo_output):
    answer = served_demo.get("/api/reports/toggles_by_editor/query?date=2026-10-05"
                             "&explode.wiki=dewiki")
    rendered = cli("render", demo_output.queries, "toggles_by_editor", "--date", "2026-10-05",
                   "--explode", "wiki=dewiki")
    assert answer.status == 200 and rendered.returncode == 0
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.text == rendered.stdout
    script = served_demo.get("/api/reports/monthly_summary/query?date=2026-10-05")
    assert script.text == cli("render", demo_output.queries, "monthly_summary", "--date",
                              "2026-10-05").stdout


@pytest.mark.parametrize("path, status, message", [
    ("/api/reports/nope/data", 404,
     "unknown report 'nope'; the reports are: toggles_by_editor, weekly_toggles, "
     "toggles_by_edit_count, monthly_summary"),
    ("/api/reports/nope", 404,
     "unknown report 'nope'; the reports are: toggles_by_editor, weekly_toggles, "
     "toggles_by_edit_count, monthly_summary"),
    ("/api/reports/toggles_by_editor/data?explode.wiki=frwiki", 404,
     "'frwiki' is not a value of wiki for report 'toggles_by_editor'; the values are: "
     "enwiki, dewiki, eswiki"),
    ("/api/reports/toggles_by_editor/data?explode.lang=fr", 400,
     "report 'toggles_by_editor' has no explode placeholder 'lang'; its placeholders are: "
     "wiki"),
    ("/api/reports/toggles_by_editor/data?from=2026-13-01", 400,
     "from: '2026-13-01' is not a date (YYYY-MM-DD) or a date and time "
     "(YYYY-MM-DD HH:MM:SS)"),
    ("/api/reports/toggles_by_editor/data?to=yesterday", 400,
     "to: 'yesterday' is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DD HH:MM:SS)"),
    ("/api/reports/toggles_by_editor/data?from=2026-10-02&to=2026-10-01", 400,
     "from 2026-10-02 is after to 2026-10-01"),
    ("/api/reports/weekly_toggles/data?columns=toggles,nope", 400,
     "report 'weekly_toggles' has no column 'nope'; its columns are: toggles, enabled, "
     "disabled, wikis"),
    ("/api/reports/weekly_toggles/data?format=xml", 400,
     "format 'xml' is not one of: json, csv, tsv"),
    ("/api/reports/weekly_toggles/data?limit=3", 400,
     "unknown parameter 'limit'; the parameters are: explode.NAME, from, to, columns, format"),
    ("/api/reports/weekly_toggles/query", 400,
     "date is required: /api/reports/weekly_toggles/query?date=YYYY-MM-DD"),
    ("/api/reports/weekly_toggles/query?date=2026-02-30", 400,
     "date: '2026-02-30' is not a date (YYYY-MM-DD) or a date and time "
     "(YYYY-MM-DD HH:MM:SS)"),
    ("/api/reports/toggles_by_editor/query?date=2026-10-01", 400,
     "report 'toggles_by_editor' explodes by wiki; pass explode.wiki=VALUE"),
    ("/api/nothing", 404, "no such page: /api/nothing"),
])
def test_errors_are_json(served_demo, path, status, message):
    answer = served_demo.get(path)
    assert answer.headers["content-type"] == "application/json"
    assert (answer.status, answer.json()) == (status, {"error": message, "status": status})


def test_post_is_refused(served_demo):
    connection = __import__("http.client").client.HTTPConnection(
        served_demo.host, served_demo.port, timeout=10)
    connection.request("POST", "/api/reports", body=b"{}")
    response = connection.getresponse()
    assert response.status == 405
    assert json.loads(response.read())["error"] == (
        "POST is not allowed here: this server is read-only")


@pytest.mark.parametrize("path", [
    "/api/reports/..%2F..%2F..%2Fetc%2Fpasswd/data",
    "/api/reports/%2Fetc%2Fpasswd/data",
    "/api/reports/..%2Fqueries%2Fconfig.yaml/data",
    "/api/reports/toggles_by_editor/data?explode.wiki=..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/reports/toggles_by_editor/data?explode.wiki=%2Fetc%2Fpasswd",
    "/api/reports/toggles_by_editor/data?explode.wiki=..",
    "/api/reports/toggles_by_editor/query?date=2026-10-01&explode.wiki=..%2Fwikis",
    "/static/..%2F..%2Fconfig.py",
    "/static/%2Fetc%2Fpasswd",
    "/static/../app.py",
    "/static/..",
    "/../../../../etc/passwd",
    "/%2E%2E/%2E%2E/etc/passwd",
    "//etc/passwd",
    "/api/reports/%2E%2E/data",
])
def test_no_path_leaves_the_folders(served_demo, path):
    answer = served_demo.get(path)
    assert answer.status == 404
    assert answer.headers["content-type"] == "application/json"
    assert b"root:" not in answer.body and b"import" not in answer.body


def test_a_symlink_out_of_the_output_folder_is_refused(tmp_path, start_server, demo_output):
    output = tmp_path / "output"
    shutil.copytree(demo_output.output, output)
    secret = tmp_path / "secret.tsv"
    secret.write_text("date\tsecret\n2026-10-01\t42\n")
    target = output / "toggles_by_editor" / "dewiki.tsv"
    target.unlink()
    target.symlink_to(secret)
    inside = output / "toggles_by_editor" / "eswiki.tsv"
    inside.unlink()
    inside.symlink_to(output / "toggles_by_editor" / "enwiki.tsv")  # inside: served
    server = start_server(demo_output.queries, output)
    answer = server.get(data_url("toggles_by_editor", {"wiki": "dewiki"}))
    assert (answer.status, answer.json()["error"]) == (
        404, f"{target} is outside the output folder {output}; it is not served")
    assert server.get(data_url("toggles_by_editor", {})).status == 404
    assert b"secret" not in server.get(data_url("toggles_by_editor", {})).body
    served = server.get(data_url("toggles_by_editor", {"wiki": "eswiki"}, format="tsv"))
    assert served.body == (output / "toggles_by_editor" / "enwiki.tsv").read_bytes()


def test_conditional_gets_answer_304(served_demo):
    for path in (data_url("toggles_by_editor", {"wiki": "enwiki"}),
                 data_url("toggles_by_editor", {}, format="csv"),
                 "/api/reports", "/api/status", "/", "/static/uPlot.iife.min.js"):
        first = served_demo.get(path)
        assert first.status == 200, path
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        again = served_demo.get(path, {"If-None-Match": etag})
        assert (again.status, again.body, again.headers["etag"]) == (304, b"", etag), path
        since = served_demo.get(path, {"If-Modified-Since": modified})
        assert since.status == 304, path
        other = served_demo.get(path, {"If-None-Match": 'W/"another"'})
        assert other.status == 200, path
    # Another representation of the same file has another ETag.
    assert (served_demo.get(data_url("weekly_toggles", {})).headers["etag"]
            != served_demo.get(data_url("weekly_toggles", {}, format="csv")).headers["etag"])


def test_a_changed_file_changes_the_etag(tmp_path, start_server, demo_output):
    output = tmp_path / "output"
    shutil.copytree(demo_output.output, output)
    server = start_server(demo_output.queries, output)
    path = data_url("weekly_toggles", {}, format="tsv")
    first = server.get(path)
    timeline = output / "weekly_toggles.tsv"
    changed = timeline.read_text().replace("\t307\t", "\t308\t")
    replacement = tmp_path / "new.tsv"
    replacement.write_text(changed)
    os.replace(replacement, timeline)  # as a run writes: a new file renamed into place
    again = server.get(path, {"If-None-Match": first.headers["etag"]})
    assert again.status == 200
    assert again.text == changed and again.headers["etag"] != first.headers["etag"]
    reports = server.get("/api/reports")
    assert server.get("/api/reports", {"If-None-Match": reports.headers["etag"]}).status == 304
    (output / "monthly_summary.tsv").unlink()
    listed = server.get("/api/reports", {"If-None-Match": reports.headers["etag"]})
    assert listed.status == 200
    assert listed.json()["reports"][3]["state"] == "empty"


def test_answers_are_gzipped(served_demo, demo_output):
    answer = served_demo.get(data_url("toggles_by_editor", {"wiki": "enwiki"}, format="tsv"),
                             {"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert gzip.decompress(answer.body) == (
        demo_output.output / "toggles_by_editor" / "enwiki.tsv").read_bytes()
    assert "content-encoding" not in served_demo.get("/api/reports").headers


def test_cors_is_opt_in(served_demo, start_server, demo_output):
    origin = {"Origin": "https://grafana.example.org"}
    assert "access-control-allow-origin" not in served_demo.get("/api/reports", origin).headers
    server = start_server(demo_output.queries, demo_output.output, "--cors",
                          "https://grafana.example.org")
    answer = server.get("/api/reports", origin)
    assert answer.headers["access-control-allow-origin"] == "https://grafana.example.org"
    other = server.get("/api/reports", {"Origin": "https://evil.example.org"})
    assert "access-control-allow-origin" not in other.headers


def test_binds_to_loopback_only(served_demo):
    assert served_demo.get("/healthz").status == 200
    # 127.0.0.2 is this machine too, but not the address the server bound.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", served_demo.port), timeout=5).close()


def test_concurrent_requests(served_demo):
    paths = [data_url(r, e) for r, e, _ in SERIES] + [
        data_url("toggles_by_editor", {}, format="csv"), "/api/reports", "/api/status",
        "/api/reports/weekly_toggles/query?date=2026-10-05"]
    expected = {p: served_demo.get(p).body for p in paths}
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda p: (p, served_demo.get(p)), paths * 10))
    assert len(answers) == 10 * len(paths)
    for path, answer in answers:
        assert (answer.status, answer.body) == (200, expected[path]), path


def test_a_broken_file_is_a_json_error_and_nothing_is_written(tmp_path, start_server):
    demo = make_demo(tmp_path)
    broken = demo.output / "toggles_by_editor" / "eswiki.tsv"
    broken.write_text("date\teditor\tenabled\ttoggles\nlast tuesday\tx\ty\t1\n")
    before = snapshot(demo.queries, demo.output)
    server = start_server(demo.queries, demo.output)
    answer = server.get(data_url("toggles_by_editor", {"wiki": "eswiki"}))
    assert (answer.status, answer.json()["error"]) == (
        500, f"{broken}:2: first column 'last tuesday' is not a date in the format %Y-%m-%d "
             "of a days report; fix or move the file, nothing was overwritten")
    entry = server.get("/api/reports").json()["reports"][0]
    assert entry["state"] == "error"
    assert entry["errors"] == [answer.json()["error"]]
    for path in ("/", "/api/status", data_url("weekly_toggles", {}),
                 "/api/reports/weekly_toggles/query?date=2026-10-05"):
        server.get(path)
    assert snapshot(demo.queries, demo.output) == before


# -- in process: what is read, and what is typed as a number -----------------------------


def test_files_are_read_only_when_they_change(demo_output, tmp_path):
    import datetime as dt

    from reportupdater.config import load_config
    from reportupdater.serve import data, library

    output = tmp_path / "output"
    shutil.copytree(demo_output.output, output)
    config = load_config(demo_output.queries)
    report = config.report("toggles_by_editor")
    cache = data.TimelineCache()
    request = data.parse_data_request(report, [("explode.wiki", "dewiki")])
    first = data.read_table(request, output, cache)
    assert data.read_table(request, output, cache).rows == first.rows
    assert cache.reads == 1
    everything = data.parse_data_request(report, [])
    data.read_table(everything, output, cache)
    assert cache.reads == 3  # the two other wikis; dewiki's parse is reused
    timeline = output / "toggles_by_editor" / "dewiki.tsv"
    replacement = tmp_path / "new.tsv"
    replacement.write_text(timeline.read_text() + "2026-11-01\twikitext_2010\ttrue\t5\n")
    os.replace(replacement, timeline)
    assert data.read_table(request, output, cache).rows[-1] == [
        "2026-11-01", "wikitext_2010", "true", "5"]
    assert cache.reads == 4

    statuses = library.StatusCache()
    now = dt.datetime(2026, 11, 1)
    found, _ = library.statuses(config, output, now, statuses)
    assert statuses.computed == 4
    assert library.statuses(config, output, now, statuses)[0] == found
    assert statuses.computed == 4  # nothing changed: no file read
    (output / "weekly_toggles.tsv").unlink()
    library.statuses(config, output, now, statuses)
    assert statuses.computed == 5  # only the report whose file changed


@pytest.mark.parametrize("cells, kind", [
    (["1", "-2", "", "0", "10"], "number"),
    (["0.706", "1.5", "-0.25"], "number"),
    (["1.50"], "string"),  # JSON would give 1.5 back: not the TSV's text
    (["007"], "string"),
    (["1e3"], "string"),
    (["NaN"], "string"),
    (["1_000"], "string"),
    (["+1"], "string"),
    (["wikitext_2010", "1"], "string"),
])
def test_a_column_is_a_number_only_if_json_gives_its_text_back(cells, kind):
    from reportupdater.serve import data

    assert ("number" if data.is_number_column(cells) else "string") == kind
    assert all(data.is_number(c) for c in cells) == (kind == "number")
