"""The cohort metrics API of ``reportupdater serve``, against a real running server
and a generated wiki on the real MariaDB: every answer equals the plain-Python
computation; slow requests become jobs; answers are cached; bad parameters
answer 400 naming them; uploads are off unless asked, validated against
``user`` and kept out of the output folder."""

from __future__ import annotations

import math
import secrets
import time

import pymysql
import pytest

import cohort_data as data
from cohort_reference import Reference, aggregates as reference_aggregates
from conftest import MARIADB

WINDOW = {"window": "registration", "t": 24, "namespaces": [0], "include_deleted": False}


@pytest.fixture(scope="module")
def api_wiki(mariadb_server):
    """A small generated wiki in its own database, and its plain-Python reference."""
    world = data.generate(seed=21, users=150, revisions=4000)
    name = f"ru_cohort_api_{secrets.token_hex(4)}"
    with mariadb_server.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    connection = pymysql.connect(**MARIADB, database=name, autocommit=True)
    data.load(connection, world)
    connection.close()
    yield world, name, Reference(world)
    with mariadb_server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE {name}")


@pytest.fixture
def api_folder(make_folder, api_wiki, tmp_path):
    """A query folder whose cohort ``everyone`` holds every generated user."""
    world, name, _ = api_wiki
    ids = "".join(f"{u.user_id}\n" for u in world.users)
    queries = make_folder(f"""
        databases:
            wiki:
                host: {MARIADB['host']}
                port: {MARIADB['port']}
                db: {name}
        cohorts:
            everyone: {{db: wiki, users: everyone.txt}}
            registered: {{db: wiki, query: registered}}
        reports: {{}}
        """, files={"everyone.txt": ids, "registered.sql":
                    "SELECT user_id FROM user WHERE user_registration >= '{from_timestamp}' "
                    "AND user_registration < '{to_timestamp}'\n"})
    output = tmp_path / "output"
    output.mkdir()
    return queries, output


def assert_matches_reference(document, reference, metric, user_ids, **kwargs):
    expected = reference.values(metric, user_ids, **kwargs)
    got = {u["user_id"]: (u["value"], u["reason"]) for u in document["users"]}
    assert sorted(got) == sorted(user_ids)
    for user_id, (value, reason) in expected.items():
        if isinstance(value, dict) and metric == "namespace_of_edits":
            value = {str(k): v for k, v in sorted(value.items())}
        if isinstance(value, float):
            assert math.isclose(got[user_id][0], value) and got[user_id][1] is None
        else:
            assert got[user_id] == (value, reason), user_id
    want = reference_aggregates(metric, expected)
    assert sorted(document["aggregates"]) == sorted(want)
    for column, value in want.items():
        if isinstance(value, float):
            assert math.isclose(document["aggregates"][column], value), column
        elif isinstance(value, dict):
            assert document["aggregates"][column] == {str(k): v for k, v in value.items()}
        else:
            assert document["aggregates"][column] == value, column


def poll(server, url, timeout=120.0):
    """GET ``url`` until it stops answering 202."""
    deadline = time.monotonic() + timeout
    while True:
        answer = server.get(url)
        if answer.status != 202 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def test_cohorts_lists_the_configs_cohorts_and_the_metrics(start_server, api_folder):
    server = start_server(*api_folder)
    answer = server.get("/api/cohorts")
    assert answer.status == 200
    document = answer.json()
    assert document["cohorts"] == [
        {"name": "everyone", "db": "wiki", "users": "everyone.txt", "uploaded": False},
        {"name": "registered", "db": "wiki", "query": "registered.sql", "uploaded": False}]
    assert document["upload"] is False
    assert document["metrics"]["threshold"] == ["n", "t", "namespaces", "include_deleted"]
    assert len(document["metrics"]) == 10


@pytest.mark.parametrize("metric, query, kwargs", [
    ("edit_count", "", {}),
    ("threshold", "n=2&t=48", {"n": 2, "t": 48}),
    ("bytes_added", "start=2026-10-05&end=2026-10-20&namespaces=0,1",
     {"window": "input", "start": "20261005000000", "end": "20261020000000",
      "namespaces": (0, 1)}),
    ("revert_rate", "k=3&namespaces=all", {"k": 3, "namespaces": None}),
    ("namespace_of_edits", "t=72", {"t": 72}),
    ("blocks", "start=2026-09-01&end=2027-01-01",
     {"window": "input", "start": "20260901000000", "end": "20270101000000"}),
])
def test_a_metric_answers_with_the_plain_python_values(start_server, api_folder, api_wiki,
                                                       metric, query, kwargs):
    world, name, reference = api_wiki
    server = start_server(*api_folder)
    answer = server.get(f"/api/cohorts/everyone/{metric}?per_user=true"
                        + (f"&{query}" if query else ""))
    assert answer.status == 200, answer.text
    document = answer.json()
    assert (document["cohort"], document["metric"], document["wiki"]) == (
        "everyone", metric, name)
    assert document["unknown"] == []
    ids = [u.user_id for u in world.users]
    assert_matches_reference(document, reference, metric, ids, **kwargs)


def test_the_parameters_used_are_shown_with_their_defaults(start_server, api_folder):
    server = start_server(*api_folder)
    document = server.get("/api/cohorts/everyone/edit_count").json()
    assert document["parameters"] == WINDOW
    assert "users" not in document  # per-user values only when asked
    document = server.get("/api/cohorts/everyone/time_to_threshold?b=3").json()
    assert document["parameters"] == {"namespaces": [0], "include_deleted": False, "a": 1,
                                      "b": 3}


def test_a_query_cohort_is_rendered_for_its_interval(start_server, api_folder, api_wiki):
    world, _, reference = api_wiki
    server = start_server(*api_folder)
    answer = server.get("/api/cohorts/registered/threshold?per_user=true"
                        "&cohort_start=2026-10-03&cohort_end=2026-10-10")
    assert answer.status == 200, answer.text
    document = answer.json()
    assert document["cohort_interval"] == {"start": "20261003000000",
                                           "end": "20261010000000"}
    ids = [u.user_id for u in world.users
           if u.registration and "20261003000000" <= u.registration < "20261010000000"]
    assert ids
    assert_matches_reference(document, reference, "threshold", ids, n=1, t=24)


def test_a_slow_request_answers_202_and_its_job_the_result(start_server, api_folder,
                                                            api_wiki):
    world, _, reference = api_wiki
    # --sync-seconds 0: every measurement not already cached becomes a job.
    server = start_server(*api_folder, "--sync-seconds", "0")
    answer = server.get("/api/cohorts/everyone/survival?per_user=true&t=100")
    assert answer.status == 202, answer.text
    job = answer.json()
    assert job["status"] == "running" and len(job["job"]) == 32
    assert job["url"] == f"/api/jobs/{job['job']}" == answer.headers["location"]
    done = poll(server, job["url"])
    assert done.status == 200, done.text
    assert done.json()["parameters"] == {"t": 100, "namespaces": [0],
                                         "include_deleted": False}
    assert_matches_reference(done.json(), reference, "survival",
                             [u.user_id for u in world.users], t=100)
    # Asked again, it is in the cache: answered at once, even with no time to wait.
    again = server.get("/api/cohorts/everyone/survival?per_user=true&t=100")
    assert (again.status, again.headers["x-cache"]) == (200, "hit")
    assert again.json() == done.json()


def test_an_unknown_job_is_404(start_server, api_folder):
    server = start_server(*api_folder)
    answer = server.get("/api/jobs/0123456789abcdef0123456789abcdef")
    assert (answer.status, answer.json()["error"]) == (
        404, "no job '0123456789abcdef0123456789abcdef' (jobs are kept in memory, the last "
             "256)")


def test_results_are_cached_by_their_parameters(start_server, api_folder, api_wiki):
    _, name, _ = api_wiki
    server = start_server(*api_folder)
    first = server.get("/api/cohorts/everyone/pages_created?t=48")
    assert (first.status, first.headers["x-cache"]) == (200, "miss")
    # The same parameters spelled otherwise (the defaults given) are the same entry.
    same = server.get("/api/cohorts/everyone/pages_created?namespaces=0&t=48&"
                      "include_deleted=false&per_user=true")
    assert (same.status, same.headers["x-cache"]) == (200, "hit")
    assert same.json()["aggregates"] == first.json()["aggregates"]
    other = server.get("/api/cohorts/everyone/pages_created?t=47")
    assert other.headers["x-cache"] == "miss"
    # A cached answer is not read from the wiki again: emptying it changes nothing...
    connection = pymysql.connect(**MARIADB, database=name, autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE revision_saved AS SELECT * FROM revision")
        cursor.execute("DELETE FROM revision")
    try:
        assert server.get("/api/cohorts/everyone/pages_created?t=48").json() == first.json()
        # ...while a new question is.
        fresh = server.get("/api/cohorts/everyone/pages_created?t=46").json()
        assert fresh["aggregates"]["sum"] == 0
    finally:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO revision SELECT * FROM revision_saved")
            cursor.execute("DROP TABLE revision_saved")
        connection.close()


def test_editing_a_cohort_file_is_a_new_question(start_server, api_folder, api_wiki):
    world, _, _ = api_wiki
    queries, output = api_folder
    server = start_server(queries, output)
    first = server.get("/api/cohorts/everyone/edit_count").json()
    assert first["aggregates"]["users"] + first["aggregates"]["missing"] == len(world.users)
    (queries / "everyone.txt").write_text(f"{world.users[0].user_id}\n")
    answer = server.get("/api/cohorts/everyone/edit_count")
    assert answer.headers["x-cache"] == "miss"
    assert answer.json()["aggregates"]["users"] + answer.json()["aggregates"]["missing"] == 1


@pytest.mark.parametrize("query, parameter, message", [
    ("t=abc", "t", "parameter 't' must be a whole number >= 1, not 'abc'"),
    ("t=0", "t", "parameter 't' must be a whole number >= 1, not 0"),
    ("n=2", "n", "metric 'edit_count' has no parameter 'n' (it takes: window, t, start, end, "
                 "namespaces, include_deleted)"),
    ("start=2026-10-05", "end", "parameter 'end' is required for window 'input'"),
    ("start=2026-10-05&end=2026-10-01", "end",
     "parameter 'end' (2026-10-01) must come after 'start' (2026-10-05)"),
    ("start=yesterday&end=2026-10-01", "start",
     "parameter 'start' must be a date (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS or YYYYMMDDHHMMSS), "
     "not 'yesterday'"),
    ("namespaces=0;DROP%20TABLE%20user", "namespaces",
     "parameter 'namespaces' must be 'all' or a comma-separated list of namespace numbers, "
     "not '0;DROP TABLE user'"),
    ("window=forever", "window",
     "parameter 'window' must be registration or input, not 'forever'"),
    ("per_user=maybe", "per_user", "parameter 'per_user' must be true or false, not 'maybe'"),
    ("wiki=x%27%20OR%201", "wiki",
     "parameter 'wiki' must be a database name (letters, digits and _ only), not \"x' OR 1\""),
    ("colour=red", "colour", "unknown parameter 'colour'; the parameters are: window, t, "
                             "start, end, namespaces, include_deleted, n, a, b, k, wiki, "
                             "per_user, cohort_start, cohort_end"),
    ("t=2&t=3", "t", "parameter 't' is given more than once"),
])
def test_bad_parameters_answer_400_naming_them(start_server, api_folder, query, parameter,
                                               message):
    server = start_server(*api_folder)
    answer = server.get(f"/api/cohorts/everyone/edit_count?{query}")
    assert (answer.status, answer.json()) == (
        400, {"error": message, "status": 400, "parameter": parameter})


def test_a_query_cohort_without_an_interval_is_400(start_server, api_folder):
    server = start_server(*api_folder)
    answer = server.get("/api/cohorts/registered/edit_count")
    assert (answer.status, answer.json()["parameter"], answer.json()["error"]) == (
        400, "cohort_start", "cohort 'registered' is a query: give cohort_start and "
                             "cohort_end (or start and end) for its interval")


@pytest.mark.parametrize("path, message", [
    ("/api/cohorts/nobody/edit_count",
     "unknown cohort 'nobody'; the cohorts are: everyone, registered"),
    ("/api/cohorts/everyone/happiness",
     "unknown metric 'happiness'; the metrics are: edit_count, pages_created, bytes_added, "
     "namespace_of_edits, threshold, survival, live_account, time_to_threshold, "
     "revert_rate, blocks"),
])
def test_unknown_cohorts_and_metrics_are_404(start_server, api_folder, path, message):
    server = start_server(*api_folder)
    answer = server.get(path)
    assert (answer.status, answer.json()) == (404, {"error": message, "status": 404})


# --- uploads -------------------------------------------------------------------------------


def upload_csv(world) -> bytes:
    """Names with quotes, SQL and non-ASCII, an ID, and a name given with underscores."""
    users = world.users
    lines = [users[0].user_name, users[1].user_name, users[3].user_name,
              users[4].user_name.replace(" ", "_"), str(users[20].user_id),
              f'"{users[7].user_name}"']
    return ("\n".join(lines) + "\n").encode()


def test_upload_is_off_unless_allowed(start_server, api_folder, api_wiki, tmp_path):
    world, _, _ = api_wiki
    server = start_server(*api_folder)
    answer = server.post("/api/cohorts?name=editathon", upload_csv(world))
    assert (answer.status, answer.json()) == (
        403, {"error": "uploading cohorts is off; start serve with --allow-upload",
              "status": 403})
    assert not (tmp_path / "output-cohorts").exists()
    assert [c["name"] for c in server.get("/api/cohorts").json()["cohorts"]] == [
        "everyone", "registered"]


def test_an_uploaded_cohort_is_validated_stored_apart_and_measured(
        start_server, api_folder, api_wiki, tmp_path, mariadb_server):
    world, name, reference = api_wiki
    queries, output = api_folder
    server = start_server(queries, output, "--allow-upload")
    answer = server.post("/api/cohorts?name=editathon", upload_csv(world),
                         {"Content-Type": "text/csv"})
    assert answer.status == 201, answer.text
    assert answer.json() == {
        "cohort": {"name": "editathon", "db": "wiki", "users": "editathon.csv",
                   "uploaded": True},
        "users": 6, "url": "/api/cohorts/editathon/{metric}"}
    picked = [world.users[i].user_id for i in (0, 1, 3, 4, 20, 7)]
    stored = tmp_path / "output-cohorts" / "editathon.csv"
    assert stored.read_text() == "# db: wiki\nuser_id,wiki\n" + "".join(
        f"{i},{name}\n" for i in picked)
    assert list(output.iterdir()) == []  # nothing in the output folder
    listed = server.get("/api/cohorts").json()["cohorts"]
    assert listed[0] == {"name": "editathon", "db": "wiki", "users": "editathon.csv",
                         "uploaded": True}
    document = server.get("/api/cohorts/editathon/edit_count?per_user=true&t=72").json()
    assert_matches_reference(document, reference, "edit_count", picked, t=72)
    # The SQL in the names was only ever a parameter: the user table is whole.
    with mariadb_server.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {name}.user")
        assert cursor.fetchone()[0] == len(world.users)
    # An upload is never replaced.
    again = server.post("/api/cohorts?name=editathon", b"10\n")
    assert (again.status, again.json()["error"]) == (
        409, "cohort 'editathon' exists already; uploads are never replaced, choose another "
             "name")
    assert stored.read_text().count("\n") == 8


def test_an_upload_with_unknown_users_is_refused_naming_them(start_server, api_folder,
                                                             api_wiki, tmp_path):
    world, name, _ = api_wiki
    server = start_server(*api_folder, "--allow-upload")
    body = f"{world.users[0].user_name}\nNobody Here\n999999\nx' OR '1'='1\n".encode()
    answer = server.post("/api/cohorts?name=mixed", body)
    assert (answer.status, answer.json()) == (400, {
        "error": f"3 user(s) not in the user table: Nobody Here ({name}), x' OR '1'='1 "
                 f"({name}), 999999 ({name})", "status": 400, "parameter": "users"})
    assert not (tmp_path / "output-cohorts" / "mixed.csv").exists()


@pytest.mark.parametrize("path, body, status, parameter, message", [
    ("/api/cohorts?name=../../etc/passwd", b"10\n", 400, "name",
     "cohort name '../../etc/passwd' must start with a letter and hold only letters, digits, "
     "_ and - (at most 64)"),
    ("/api/cohorts?name=x%00y", b"10\n", 400, "name",
     "cohort name 'x\\x00y' must start with a letter and hold only letters, digits, _ and - "
     "(at most 64)"),
    ("/api/cohorts?name=everyone", b"10\n", 409, "name",
     "cohort 'everyone' exists already; uploads are never replaced, choose another name"),
    ("/api/cohorts", b"10\n", 400, "name",
     "parameter 'name' is required: POST /api/cohorts?name=NAME"),
    ("/api/cohorts?name=a&db=nope", b"10\n", 400, "db",
     "unknown database 'nope'; the config has: wiki"),
    ("/api/cohorts?name=a&wiki=en;wiki", b"10\n", 400, "wiki",
     "parameter 'wiki' must be a database name (letters, digits and _ only), not 'en;wiki'"),
    ("/api/cohorts?name=a", b"\xff\xfe", 400, "body",
     "the CSV is not UTF-8: 'utf-8' codec can't decode byte 0xff in position 0: invalid "
     "start byte"),
    ("/api/cohorts?name=a", b"# nothing\n", 400, "body",
     "uploaded cohort 'a' holds no users"),
    ("/api/cohorts?name=a", b"Someone,en;DROP\n", 400, "body",
     "uploaded cohort 'a':1: wiki 'en;DROP' is not a database name (letters, digits and _ "
     "only)"),
])
def test_bad_uploads_are_refused(start_server, api_folder, tmp_path, path, body, status,
                                 parameter, message):
    server = start_server(*api_folder, "--allow-upload")
    answer = server.post(path, body)
    assert (answer.status, answer.json()) == (
        status, {"error": message, "status": status, "parameter": parameter})
    assert not (tmp_path / "output-cohorts").exists()


def test_the_cohorts_folder_is_never_inside_the_output_folder(api_folder):
    from servers.web import cli

    queries, output = api_folder
    result = cli("serve", queries, output, "--allow-upload", "--cohorts-folder",
                 output / "uploads")
    assert result.returncode == 2
    assert (f"--cohorts-folder: the cohorts folder '{output.resolve() / 'uploads'}' is inside "
            f"the output folder '{output.resolve()}'; uploads are kept apart from the "
            "timelines") in result.stderr
