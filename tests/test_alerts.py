"""Alerts end to end: rules judged after a run, incidents, email and webhook
delivery against real SMTP (aiosmtpd) and HTTP servers on loopback."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from reportupdater.alerts.sink import judge_report
from reportupdater.config import load_config

VALUES_SCRIPT = r"""
#!/bin/sh
# Rows of <folder>/values: "<explode value or ->\t<date>\t<columns...>", first line the header.
eval folder=\${$#}
if [ $# -ge 4 ]; then key=$3; else key=-; fi
head -n 1 "$folder/values"
grep "^$key	$1	" "$folder/values" | cut -f 2-
"""

OWNERS = ["owner@example.org", "second@example.org"]


def config_text(smtp_port: int | None, webhook_url: str | None, report: str,
                extra_top: str = "") -> str:
    alerting = ""
    if smtp_port or webhook_url:
        alerting = "alerting:\n    dashboard_url: https://grafana.example.org/d/x?var-wiki={wiki}&r={report}\n"
        if smtp_port:
            alerting += (f"    email: {{smtp_host: 127.0.0.1, smtp_port: {smtp_port}, "
                         "from: reportupdater@example.org}\n")
        if webhook_url:
            alerting += f"    webhook: {{url: '{webhook_url}', headers: {{X-Token: s3cret}}}}\n"
    return alerting + extra_top + "reports:\n" + report


EDITS = """\
    edits:
        type: script
        granularity: days
        starts: 2026-10-01
        owner: [owner@example.org, second@example.org]
        description: Daily edits on the wiki
        ticket: https://phabricator.example.org/T123
        alerts:
            - {name: low_edits, column: edits, below: 10}
"""


def write_values(folder: Path, header: str, rows: list[str]) -> None:
    (folder / "values").write_text(header + "\n" + "".join(r + "\n" for r in rows))


@pytest.fixture
def edits_folder(make_folder, smtp_server, webhook_server):
    def make(report: str = EDITS, rows: list[str] | None = None, header="date\tedits",
             extra_top: str = "", script: str = "edits"):
        folder = make_folder(config_text(smtp_server.port, webhook_server.url, report,
                                         extra_top), executables={script: VALUES_SCRIPT})
        write_values(folder, header, rows or [])
        return folder
    return make


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def body(part) -> str:
    return part.get_content().replace("\r\n", "\n")  # SMTP lines end in CRLF


def parts(message) -> dict[str, list]:
    found: dict[str, list] = {}
    for part in message.walk():
        found.setdefault(part.get_content_type(), []).append(part)
    return found


def read_state(output: Path) -> dict:
    return json.loads((output / ".reportupdater-alerts.json").read_text())["incidents"]


def outbox(output: Path) -> list[str]:
    folder = output / ".alerts-outbox"
    return sorted(p.name for p in folder.glob("*.json")) if folder.exists() else []


# -- the lifecycle: fire once, keep quiet, resolve ------------------------------------------


def test_a_crossing_fires_one_email_with_a_chart_and_one_webhook_post(
        edits_folder, run_cli, tmp_path, smtp_server, webhook_server, caplog):
    folder = edits_folder(rows=["-\t2026-10-01\t12", "-\t2026-10-02\t11", "-\t2026-10-03\t9"])
    output = tmp_path / "out"
    result = run_cli("run", folder, output, "--now", "2026-10-04")
    assert result.code == 0, result.err
    assert "WARNING alert fired: report 'edits' (all rows) rule 'low_edits': 9 on " \
           "2026-10-03 is below 10 [incident " in result.err

    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == OWNERS
    assert received.mail_from == "reportupdater@example.org"
    message = received.message
    assert message["Subject"] == "[reportupdater] FIRING: edits (all rows) rule 'low_edits'"
    assert message["To"] == "owner@example.org, second@example.org"
    found = parts(message)
    text = body(found["text/plain"][0])
    [incident] = read_state(output).values()
    assert text == f"""\
Report:      edits
Series:      all rows
Rule:        low_edits: edits below 10
State:       firing
Value:       9 on 2026-10-03
Threshold:   low 10
Why:         9 on 2026-10-03 is below 10
Fired at:    2026-10-04T00:00:00Z
Description: Daily edits on the wiki
Ticket:      https://phabricator.example.org/T123
Dashboard:   https://grafana.example.org/d/x?var-wiki={{wiki}}&r=edits
Incident:    {incident['incident_id']}

Last 14 data points:
  2026-10-01  12
  2026-10-02  11
  2026-10-03  9

The chart of the last 90 data points is attached.
-- reportupdater
"""
    html = found["text/html"][0].get_content()
    inline, attached = found["image/png"]
    assert inline["Content-Disposition"].startswith("inline")
    assert f"cid:{inline['Content-ID'][1:-1]}" in html
    assert attached.get_filename() == "edits-low_edits.png"
    assert inline.get_content() == attached.get_content()
    assert png_size(attached.get_content()) == (800, 320)

    [post] = webhook_server.wait_for(1)
    assert post.path == "/hook"
    assert post.headers["X-Token"] == "s3cret"
    assert post.headers["Content-Type"] == "application/json"
    assert post.body == {
        "version": 1, "status": "firing", "test": False,
        "incident_id": incident["incident_id"], "fingerprint": incident["fingerprint"],
        "report": "edits", "rule": "low_edits", "column": "edits", "condition": "below 10",
        "explode": {}, "series": {}, "date": "2026-10-03", "value": "9", "baseline": None,
        "low": "10", "high": None, "detail": "9 on 2026-10-03 is below 10",
        "fired_at": "2026-10-04T00:00:00Z", "resolved_at": None, "owner": OWNERS,
        "description": "Daily edits on the wiki",
        "ticket": "https://phabricator.example.org/T123",
        "dashboard_url": "https://grafana.example.org/d/x?var-wiki={wiki}&r=edits",
        "points": [["2026-10-01", "12"], ["2026-10-02", "11"], ["2026-10-03", "9"]]}
    assert outbox(output) == []


def test_the_next_unchanged_run_sends_nothing_and_a_recovery_sends_resolved(
        edits_folder, run_cli, tmp_path, smtp_server, webhook_server):
    folder = edits_folder(rows=["-\t2026-10-01\t12", "-\t2026-10-02\t9"])
    output = tmp_path / "out"
    assert run_cli("run", folder, output, "--now", "2026-10-03").code == 0
    smtp_server.wait_for(1)
    webhook_server.wait_for(1)
    [fired] = read_state(output).values()

    for now in ("2026-10-03", "2026-10-03T05:00:00"):  # unchanged: quiet
        result = run_cli("run", folder, output, "--now", now)
        assert result.code == 0 and "alert fired" not in result.err
    write_values(folder, "date\tedits", ["-\t2026-10-01\t12", "-\t2026-10-02\t9",
                                         "-\t2026-10-03\t8"])
    assert "alert" not in run_cli("run", folder, output, "--now", "2026-10-04").err
    assert len(smtp_server.messages) == 1 and len(webhook_server.posts) == 1

    write_values(folder, "date\tedits", ["-\t2026-10-01\t12", "-\t2026-10-02\t9",
                                         "-\t2026-10-03\t8", "-\t2026-10-04\t10"])
    result = run_cli("run", folder, output, "--now", "2026-10-05")
    assert result.code == 0
    assert "WARNING alert resolved: report 'edits' (all rows) rule 'low_edits': 10 on " \
           "2026-10-04 is not below 10" in result.err
    resolved = smtp_server.wait_for(2)[1].message
    assert resolved["Subject"] == "[reportupdater] RESOLVED: edits (all rows) rule 'low_edits'"
    text = body(parts(resolved)["text/plain"][0])
    assert "State:       resolved\nValue:       10 on 2026-10-04\n" in text
    assert "Fired at:    2026-10-03T00:00:00Z\nResolved at: 2026-10-05T00:00:00Z\n" in text
    post = webhook_server.wait_for(2)[1].body
    assert (post["status"], post["incident_id"], post["fired_at"], post["resolved_at"]) == (
        "resolved", fired["incident_id"], "2026-10-03T00:00:00Z", "2026-10-05T00:00:00Z")
    assert read_state(output) == {}
    assert "alert" not in run_cli("run", folder, output, "--now", "2026-10-05").err
    assert len(smtp_server.messages) == 2 and len(webhook_server.posts) == 2


def test_a_two_year_backfill_fires_once_per_series(make_folder, run_cli, tmp_path,
                                                   smtp_server, webhook_server):
    always_low = '#!/bin/sh\nprintf "date\\tedits\\n%s\\t3\\n" "$1"\n'
    folder = make_folder(config_text(smtp_server.port, webhook_server.url, """\
    edits:
        type: script
        granularity: days
        starts: 2024-10-01
        owner: owner@example.org
        explode_by: {wiki: "enwiki, dewiki"}
        alerts:
            - {name: low_edits, column: edits, below: 10}
"""), executables={"edits": always_low})
    output = tmp_path / "out"
    result = run_cli("run", folder, output, "--now", "2026-10-01", "-j", "2")
    assert result.code == 0, result.err
    assert len((output / "edits/enwiki.tsv").read_text().splitlines()) == 731
    assert result.err.count("alert fired") == 2
    webhook_server.wait_for(2)
    messages = smtp_server.wait_for(2)
    assert sorted(m.message["Subject"] for m in messages) == [
        "[reportupdater] FIRING: edits (wiki=dewiki) rule 'low_edits'",
        "[reportupdater] FIRING: edits (wiki=enwiki) rule 'low_edits'"]
    assert sorted((p.body["explode"]["wiki"], p.body["date"]) for p in webhook_server.posts) \
        == [("dewiki", "2026-09-30"), ("enwiki", "2026-09-30")]
    chart = parts(messages[0].message)["image/png"][1].get_content()
    assert png_size(chart) == (800, 320)  # the last 90 of 730 points
    assert len(webhook_server.posts[0].body["points"]) == 90


# -- delivery failures: queued, then delivered once ------------------------------------------


def test_an_smtp_outage_queues_the_email_and_the_next_run_delivers_it_once(
        edits_folder, run_cli, tmp_path, smtp_server, webhook_server):
    folder = edits_folder(rows=["-\t2026-10-01\t3"])
    output = tmp_path / "out"
    smtp_server.stop()
    result = run_cli("run", folder, output, "--now", "2026-10-02")
    assert result.code == 0, result.err  # a delivery failure never fails the run
    assert "ERROR alerts: email delivery failed: SMTP 127.0.0.1:" in result.err
    assert "ConnectionRefusedError" in result.err
    assert (output / "edits.tsv").read_text() == "date\tedits\n2026-10-01\t3\n"
    [incident] = read_state(output).values()
    assert outbox(output) == [f"{incident['incident_id']}-fired-email.json"]
    queued = json.loads((output / ".alerts-outbox" / outbox(output)[0]).read_text())
    assert queued["attempts"] == 1 and queued["last_error"].startswith("SMTP 127.0.0.1:")
    webhook_server.wait_for(1)  # the other channel is not held up

    listing = run_cli("alerts", folder, output)
    assert listing.code == 0
    assert "1 message(s) wait in" in listing.out

    smtp_server.start()
    result = run_cli("run", folder, output, "--now", "2026-10-02T01:00:00")
    assert result.code == 0 and "alert fired" not in result.err
    [received] = smtp_server.wait_for(1)
    assert received.message["Subject"] == \
        "[reportupdater] FIRING: edits (all rows) rule 'low_edits'"
    assert outbox(output) == []
    run_cli("run", folder, output, "--now", "2026-10-02T02:00:00")
    assert len(smtp_server.messages) == 1 and len(webhook_server.posts) == 1


def test_a_webhook_answering_500_is_retried_by_the_next_run(
        edits_folder, run_cli, tmp_path, smtp_server, webhook_server):
    folder = edits_folder(rows=["-\t2026-10-01\t3"])
    output = tmp_path / "out"
    webhook_server.status = 500
    result = run_cli("run", folder, output, "--now", "2026-10-02")
    assert result.code == 0
    assert f"ERROR alerts: webhook delivery failed: webhook {webhook_server.url}: HTTP 500 " \
           "Internal Server Error; the message stays in" in result.err
    assert webhook_server.refused == 1 and webhook_server.posts == []
    assert [name.rsplit("-", 1)[1] for name in outbox(output)] == ["webhook.json"]
    smtp_server.wait_for(1)

    webhook_server.status = 200
    assert run_cli("run", folder, output, "--now", "2026-10-02T01:00:00").code == 0
    [post] = webhook_server.wait_for(1)
    assert post.body["status"] == "firing" and post.body["date"] == "2026-10-01"
    assert outbox(output) == [] and len(smtp_server.messages) == 1


@pytest.mark.parametrize("server_kept_it", [False, True])
def test_a_run_killed_mid_delivery_loses_nothing(edits_folder, tmp_path, smtp_server,
                                                 webhook_server, server_kept_it):
    """Killed while the SMTP server holds the email: the next run sends it again.
    If the server had kept it, the owner gets it twice (at least once), never
    a second incident."""
    folder = edits_folder(rows=["-\t2026-10-01\t3"])
    output = tmp_path / "out"
    smtp_server.hold(keep=server_kept_it)  # the server takes DATA and does not answer
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-m", "reportupdater", "run", str(folder), str(output), "--now",
         "2026-10-02"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not smtp_server.data_started.is_set():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never reached the SMTP server"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    smtp_server.wait_abandoned()
    smtp_server.release()
    [incident] = read_state(output).values()
    assert sorted(outbox(output)) == sorted(f"{incident['incident_id']}-fired-{channel}.json"
                                           for channel in ("email", "webhook"))
    assert len(smtp_server.messages) == server_kept_it and webhook_server.posts == []

    result = subprocess.run(
        [sys.executable, "-m", "reportupdater", "run", str(folder), str(output), "--now",
         "2026-10-02T01:00:00"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 0, result.stderr
    assert "alert fired" not in result.stderr  # the incident was recorded: no second fire
    received = smtp_server.wait_for(1 + server_kept_it)
    assert [r.message["X-Reportupdater-Incident"] for r in received] == \
        [incident["incident_id"]] * (1 + server_kept_it)
    [post] = webhook_server.wait_for(1)
    assert post.body["incident_id"] == incident["incident_id"]
    assert outbox(output) == []
    [after] = read_state(output).values()
    assert (after["incident_id"], after["fired_at"]) == (incident["incident_id"],
                                                         "2026-10-02T00:00:00Z")


# -- conditions at their boundaries ------------------------------------------------------


def judge_values(rule: dict, values: list[str | None], due: list[str] = ()):
    from fractions import Fraction

    from reportupdater.alerts.evaluate import judge
    from reportupdater.alerts.series import Series
    from reportupdater.alerts.settings import read_rules

    problems = []
    [parsed] = read_rules([{"name": "r", "column": "v", **rule}],
                          lambda *p: problems.append(p), {})
    assert problems == []
    points = tuple((f"2026-10-{day:02d}", None if v is None else Fraction(v))
                   for day, v in enumerate(values, start=1))
    return judge(Series("rep", parsed, (), (), points), due)


@pytest.mark.parametrize("rule, values, failing", [
    ({"below": 10}, ["10"], False),
    ({"below": 10}, ["9.999"], True),
    ({"below": 10}, ["3", None], None),  # an empty newest value: no judgement
    ({"below": 0.1}, ["0.1"], False),
    ({"above": 100}, ["100"], False),
    ({"above": 100}, ["100.001"], True),
    ({"above": 100}, ["500", "50"], False),  # only the newest point counts
    ({"change": {"drop": 0.5, "baseline": 3}}, ["100", "90", "110", "50"], False),
    ({"change": {"drop": 0.5, "baseline": 3}}, ["100", "90", "110", "49.99"], True),
    ({"change": {"rise": 2.0, "baseline": 3}}, ["100", "90", "110", "200"], False),
    ({"change": {"rise": 2.0, "baseline": 3}}, ["100", "90", "110", "200.01"], True),
    ({"change": {"drop": 0.5, "baseline": 3}}, ["90", "110", "1"], None),  # 2 < baseline
    # an empty earlier value is no data point: the median is of 100, 90, 110
    ({"change": {"drop": 0.5, "baseline": 3}}, ["100", "90", None, "110", "40"], True),
    ({"change": {"drop": 0.5, "baseline": 3}}, ["100", "90", None, "110", "1", None], None),
    ({"change": {"drop": 0.5, "baseline": 2}}, ["100", None, "100", "20"], True),
])
def test_value_conditions_at_their_boundaries(rule, values, failing):
    assert judge_values(rule, values).failing is failing


def test_the_change_detail_names_the_median():
    verdict = judge_values({"change": {"drop": 0.5, "rise": 3, "baseline": 3}},
                           ["100", "90", "110", "40"])
    assert (verdict.failing, verdict.detail) == (
        True, "40 on 2026-10-04 fell by more than 0.5 from the median 100 of the previous "
              "3 point(s)")


@pytest.mark.parametrize("values, due, failing", [
    (["1", "1", None, None], ["2026-10-03", "2026-10-04"], True),
    (["1", "1", "1", None], ["2026-10-03", "2026-10-04"], False),
    (["1", "1", None, None], ["2026-10-03", "2026-10-04", "2026-10-05"], True),
    (["1"], ["2026-10-04"], None),  # fewer intervals due than the rule needs
])
def test_stale_at_its_boundary(values, due, failing):
    assert judge_values({"stale": 2}, values, due).failing is failing


# -- series: where and per-combination ---------------------------------------------------


BY_EDITOR = """\
    toggles:
        type: script
        granularity: days
        starts: 2026-10-01
        owner: owner@example.org
        explode_by: {wiki: "enwiki, dewiki"}
        alerts:
            - {name: each, column: toggles, below: 5}
            - {name: enwiki_2017, column: toggles, below: 13,
               where: {wiki: enwiki, editor: wikitext_2017}}
"""


def test_a_rule_without_where_judges_each_combination_and_where_picks_one(
        edits_folder, run_cli, tmp_path, webhook_server, smtp_server):
    rows = []
    for wiki in ("enwiki", "dewiki"):
        for day, low in (("2026-10-01", "9"), ("2026-10-02", "4")):
            rows += [f"{wiki}\t{day}\twikitext_2010\ttrue\t9\t3",
                     f"{wiki}\t{day}\twikitext_2017\ttrue\t{low}\t3",
                     f"{wiki}\t{day}\twikitext_2017\tfalse\t{'2' if wiki == 'dewiki' else '8'}\t3"]
    folder = edits_folder(BY_EDITOR, rows, header="date\teditor\tenabled\ttoggles\tusers",
                          script="toggles")
    result = run_cli("run", folder, tmp_path / "out", "--now", "2026-10-03")
    assert result.code == 0, result.err
    posts = webhook_server.wait_for(4)
    assert sorted((p.body["rule"], p.body["explode"]["wiki"],
                   json.dumps(p.body["series"]), p.body["value"]) for p in posts) == [
        ("each", "dewiki", '{"editor": "wikitext_2017", "enabled": "false"}', "2"),
        ("each", "dewiki", '{"editor": "wikitext_2017", "enabled": "true"}', "4"),
        ("each", "enwiki", '{"editor": "wikitext_2017", "enabled": "true"}', "4"),
        # where picks enwiki's wikitext_2017 rows, one series: true 4 + false 8 = 12
        ("enwiki_2017", "enwiki", '{"editor": "wikitext_2017"}', "12")]
    assert result.err.count("alert fired") == 4
    assert "users" not in json.dumps([p.body["series"] for p in posts])  # a value column
    listing = run_cli("alerts", folder, tmp_path / "out")
    assert listing.out == """\
REPORT   SERIES                                            RULE         SINCE                 VALUE  WHY
toggles  wiki=dewiki, editor=wikitext_2017, enabled=false  each         2026-10-03T00:00:00Z  2      2 on 2026-10-02 is below 5
toggles  wiki=dewiki, editor=wikitext_2017, enabled=true   each         2026-10-03T00:00:00Z  4      4 on 2026-10-02 is below 5
toggles  wiki=enwiki, editor=wikitext_2017, enabled=true   each         2026-10-03T00:00:00Z  4      4 on 2026-10-02 is below 5
toggles  wiki=enwiki, editor=wikitext_2017                 enwiki_2017  2026-10-03T00:00:00Z  12     12 on 2026-10-02 is below 13
"""


# -- bad configs --------------------------------------------------------------------


BAD_REPORT = """\
reports:
    r:
        type: script
        granularity: days
        starts: 2026-10-01
        explode_by: {{wiki: "enwiki, dewiki"}}
        alerts:
{rules}
"""


@pytest.mark.parametrize("rules, messages", [
    ("            - {name: a, column: edits, below: 10, above: 20}",
     ["8, report 'r', key 'alerts[0].above': alert rule 'a': needs exactly one condition of "
      "below, above, change and stale, not below, above (write one rule per condition)"]),
    ("            - {name: a, column: edits}",
     ["8, report 'r', key 'alerts[0]': alert rule 'a': needs exactly one condition of below, "
      "above, change and stale, not none (write one rule per condition)"]),
    ("            - {name: a, column: edits, below: ten}",
     ["8, report 'r', key 'alerts[0].below': alert rule 'a': below must be a number, not "
      "'ten'"]),
    ("            - {name: a, column: edits, above: .nan}",
     ["8, report 'r', key 'alerts[0].above': alert rule 'a': above must be a number, not nan"]),
    ("            - name: b\n              column: edits\n"
     "              change: {drop: 1.5, rise: 0.5, baseline: 0}",
     ["10, report 'r', key 'alerts[0].change.drop': alert rule 'b': change.drop must be a "
      "fraction between 0 and 1 (0.5: fell by more than half), not 1.5",
      "10, report 'r', key 'alerts[0].change.rise': alert rule 'b': change.rise must be a "
      "factor > 1 (2.0: rose to more than twice), not 0.5",
      "10, report 'r', key 'alerts[0].change.baseline': alert rule 'b': change.baseline must "
      "be a whole number of data points >= 1, not 0"]),
    ("            - {name: b, column: edits, change: {baseline: 7}}",
     ["8, report 'r', key 'alerts[0].change': alert rule 'b': change needs drop (a fraction, "
      "e.g. 0.5), rise (a factor, e.g. 2.0) or both"]),
    ("            - {name: c, column: edits, stale: 0}",
     ["8, report 'r', key 'alerts[0].stale': alert rule 'c': stale must be a whole number of "
      "intervals >= 1, not 0"]),
    ("            - {name: c, column: edits, stale: 2, where: {wiki: frwiki}}",
     ["8, report 'r', key 'alerts[0].where.wiki': alert rule 'c': where 'wiki' is 'frwiki', "
      "which is not one of the report's explode values (enwiki, dewiki)"]),
    ("            - {column: edits, bellow: 3}",
     ["8, report 'r', key 'alerts[0].bellow': alert rule 1: unknown key 'bellow' (known: name, "
      "column, where, by, below, above, change, stale)",
      "8, report 'r', key 'alerts[0].name': alert rule 1: name is required (letters, digits, "
      "'_', '-' or '.')",
      "8, report 'r', key 'alerts[0]': alert rule 1: needs exactly one condition of below, "
      "above, change and stale, not none (write one rule per condition)"]),
    ("            - {name: d, column: edits, stale: 1}\n"
     "            - {name: d, column: users, stale: 1}",
     ["9, report 'r', key 'alerts[1].name': alert rule name 'd' is used twice; each rule of a "
      "report needs its own name"]),
    ("            - {name: 'has space', column: 3, stale: 1}",
     ["8, report 'r', key 'alerts[0].name': alert rule 'has space': name must be letters, "
      "digits, '_', '-' or '.', not 'has space'",
      "8, report 'r', key 'alerts[0].column': alert rule 'has space': column must name a "
      "value column of the report's TSV, not 3"]),
    ("            below: 3", ["7, report 'r', key 'alerts': alerts must be a list of rules "
                              "(each with name, column and one of below, above, change, "
                              "stale), not {'below': 3}"]),
])
def test_bad_alert_rules_name_the_file_line_report_and_key(make_folder, run_cli, rules,
                                                         messages):
    folder = make_folder(BAD_REPORT.format(rules=rules),
                         executables={"r": "#!/bin/sh\necho date\n"})
    result = run_cli("validate", folder)
    assert result.code == 1
    assert result.out.splitlines()[:-1] == [f"error: {folder}/config.yaml:{m}"
                                            for m in messages]


@pytest.mark.parametrize("entry, message", [
    ("owner: not-an-address", "6, report 'r', key 'owner': owner 'not-an-address' is not an "
                              "email address (name@example.org)"),
    ("owner: []", "6, report 'r', key 'owner': owner must be an email address or a list of "
                  "them, not []"),
    ("ticket: T123", "6, report 'r', key 'ticket': ticket must be a URL (http:// or "
                     "https://), not 'T123'"),
    ("ends: soon", "6, report 'r', key 'ends': ends 'soon' is not a date (YYYY-MM-DD)"),
    ("description: [a, b]", "6, report 'r', key 'description': description must be a string, "
                            "not ['a', 'b']"),
])
def test_bad_report_metadata(make_folder, run_cli, entry, message):
    folder = make_folder(f"""\
        reports:
            r:
                type: script
                granularity: days
                starts: 2026-10-01
                {entry}
        """, executables={"r": "#!/bin/sh\necho date\n"})
    result = run_cli("validate", folder)
    assert (result.code, result.out.splitlines()[0]) == (
        1, f"error: {folder}/config.yaml:{message}")


def test_bad_alerting_settings(make_folder, run_cli):
    folder = make_folder("""\
        alerting:
            email: {smtp_host: "", smtp_port: 0, from: nobody, password: x}
            webhook: {url: "ftp://x", headers: {X-A: "a\\nb"}}
            dashboard_url: grafana
            timeout: 0
            pager: {}
        reports:
            r: {type: script, granularity: days, starts: 2026-10-01}
        """, executables={"r": "#!/bin/sh\necho date\n"})
    result = run_cli("validate", folder)
    config = f"{folder}/config.yaml"
    assert result.out.splitlines() == [
        f"error: {config}:2, key 'alerting.email.smtp_host': alerting email smtp_host must be "
        "a host name, not ''",
        f"error: {config}:2, key 'alerting.email.smtp_port': alerting email smtp_port must be "
        "a port number (1-65535), not 0",
        f"error: {config}:2, key 'alerting.email.from': alerting email from must be an email "
        "address, not 'nobody'",
        f"error: {config}:2, key 'alerting.email.password': an inline SMTP password is not "
        "allowed: put it in a file only this user can read and set password_file to its path",
        f"error: {config}:3, key 'alerting.webhook.url': alerting webhook url must be an "
        "http:// or https:// URL, not 'ftp://x'",
        f"error: {config}:3, key 'alerting.webhook.headers.X-A': alerting webhook header "
        "'X-A' must be one line of text, not 'a\\nb'",
        f"error: {config}:4, key 'alerting.dashboard_url': alerting dashboard_url must be a "
        "URL template such as 'https://grafana.example.org/d/x?var-wiki={wiki}', not 'grafana'",
        f"error: {config}:5, key 'alerting.timeout': alerting timeout must be a number of "
        "seconds > 0 and <= 600, not 0",
        f"warning: {config}:6, key 'alerting.pager': unknown key 'pager' in alerting (ignored; "
        "known keys: email, webhook, dashboard_url, timeout)",
        f"8 errors, 1 warning in {config} (1 of 1 report usable)"]


# -- ends, status, --fail-on-alert, stale through a run, the alerts command -------------


ENDING = """\
    r:
        type: script
        granularity: days
        starts: 2026-10-01
        ends: 2026-10-04
        owner: owner@example.org
        graphite: {path: "x.{_metric}", metrics: {edits: edits}}
"""


def test_ends_stops_computing_keeps_the_data_and_status_shows_it_ended(
        make_folder, run_cli, tmp_path):
    script = '#!/bin/sh\nprintf "date\\tedits\\n%s\\t5\\n" "$1"\n'
    folder = make_folder("graphite: {host: 127.0.0.1, port: 9}\nreports:\n" + ENDING,
                         executables={"r": script})
    output = tmp_path / "out"
    output.mkdir()
    (output / "r.tsv").write_text("date\tedits\n2026-10-06\t7\n")  # written before `ends`
    result = run_cli("run", folder, output, "--now", "2026-10-10", "--no-graphite")
    assert result.code == 0, result.err
    assert (output / "r.tsv").read_text() == (
        "date\tedits\n2026-10-01\t5\n2026-10-02\t5\n2026-10-03\t5\n2026-10-06\t7\n")

    status = run_cli("status", folder, output, "--now", "2026-10-10")
    assert status.out.splitlines()[:2] == [
        "REPORT  TYPE    GRANULARITY  FILES  FIRST       LAST        DONE/EXPECTED  MISSING  "
        "OLDEST MISSING  LAST FAILURE  ENDS                OWNER",
        "r       script  days         1/1    2026-10-01  2026-10-06  3/3            0        "
        "-               -             2026-10-04 (ended)  owner@example.org"]
    document = json.loads(run_cli("status", folder, output, "--now", "2026-10-02",
                                  "--format", "json").out)
    [entry] = document["reports"]
    assert {k: entry[k] for k in ("owner", "ends", "ended", "alerts_firing")} == {
        "owner": ["owner@example.org"], "ends": "2026-10-04", "ended": False,
        "alerts_firing": []}

    validate = run_cli("validate", folder)
    assert f"warning: {folder}/config.yaml:7, report 'r', key 'ends': the report ended on " \
           "2026-10-04 but still has graphite configured; remove it (or the report) as its " \
           "clean-up" in validate.out.splitlines()


def test_fail_on_alert_exits_4_while_an_alert_fires(edits_folder, run_cli, tmp_path,
                                                    smtp_server, webhook_server):
    folder = edits_folder(rows=["-\t2026-10-01\t3"])
    output = tmp_path / "out"
    assert run_cli("run", folder, output, "--now", "2026-10-02").code == 0
    assert run_cli("run", folder, output, "--now", "2026-10-02", "--fail-on-alert").code == 4
    write_values(folder, "date\tedits", ["-\t2026-10-01\t3", "-\t2026-10-02\t30"])
    assert run_cli("run", folder, output, "--now", "2026-10-03", "--fail-on-alert").code == 0
    smtp_server.wait_for(2)


def test_no_alerts_judges_and_sends_nothing_and_a_later_run_still_fires(
        edits_folder, run_cli, tmp_path, smtp_server, webhook_server):
    folder = edits_folder(rows=["-\t2026-10-01\t3"])
    output = tmp_path / "out"
    quiet = run_cli("run", folder, output, "--now", "2026-10-02", "--no-alerts",
                    "--fail-on-alert")
    assert quiet.code == 0, quiet.err
    assert "alert fired" not in quiet.err
    assert smtp_server.messages == [] and webhook_server.posts == []
    assert not (output / ".reportupdater-alerts.json").exists() and outbox(output) == []
    assert run_cli("run", folder, output, "--now", "2026-10-02", "--fail-on-alert").code == 4
    smtp_server.wait_for(1)
    assert len(webhook_server.posts) == 1


def test_stale_fires_when_a_failing_query_leaves_intervals_empty(
        make_folder, run_cli, tmp_path, webhook_server):
    script = ('#!/bin/sh\ncase "$1" in 2026-10-0[45]) echo "upstream late" >&2; exit 1;; esac\n'
              'printf "date\\tedits\\n%s\\t5\\n" "$1"\n')
    folder = make_folder(config_text(None, webhook_server.url, """\
    r:
        type: script
        granularity: days
        starts: 2026-10-01
        alerts:
            - {name: fresh, column: edits, stale: 2}
"""), executables={"r": script})
    output = tmp_path / "out"
    assert run_cli("run", folder, output, "--now", "2026-10-05").code == 1  # 10-04 failed
    assert webhook_server.posts == []  # only one interval missing
    assert run_cli("run", folder, output, "--now", "2026-10-06").code == 1
    [post] = webhook_server.wait_for(1)
    assert (post.body["status"], post.body["detail"]) == (
        "firing", "no data for the last 2 interval(s) due (2026-10-04 to 2026-10-05); the "
                  "newest data is from 2026-10-03")
    assert run_cli("run", folder, output, "--now", "2026-10-07").code == 1  # 10-06 came in
    assert webhook_server.wait_for(2)[1].body["status"] == "resolved"


def test_alerts_json_and_the_test_message(edits_folder, run_cli, tmp_path, smtp_server,
                                          webhook_server):
    folder = edits_folder(rows=["-\t2026-10-01\t3"])
    output = tmp_path / "out"
    assert json.loads(run_cli("alerts", folder, output, "--json").out) == {
        "version": 1, "firing": [], "queued": 0}
    run_cli("run", folder, output, "--now", "2026-10-02")
    document = json.loads(run_cli("alerts", folder, output, "--json").out)
    [incident] = document["firing"]
    assert (incident["report"], incident["rule"], incident["value"], incident["status"]) == (
        "edits", "low_edits", "3", "firing")
    smtp_server.wait_for(1)
    status = json.loads(run_cli("status", folder, output, "--now", "2026-10-02",
                                "--format", "json").out)
    assert status["reports"][0]["alerts_firing"] == [{
        "rule": "low_edits", "series": "all rows", "since": "2026-10-02T00:00:00Z",
        "value": "3", "detail": "3 on 2026-10-01 is below 10",
        "incident_id": incident["incident_id"]}]

    result = run_cli("alerts", folder, output, "--test", "edits", "--now", "2026-10-02")
    assert (result.code, result.out) == (0, "email: sent\nwebhook: sent\n")
    test_mail = smtp_server.wait_for(2)[1].message
    assert test_mail["Subject"] == \
        "[TEST] [reportupdater] FIRING: edits (all rows) rule 'low_edits'"
    assert "Why:         a test alert sent by 'reportupdater alerts --test'; nothing is " \
           "wrong\n" in body(parts(test_mail)["text/plain"][0])
    assert webhook_server.wait_for(2)[1].body["test"] is True
    assert len(read_state(output)) == 1  # a test changes no incident

    smtp_server.stop()
    result = run_cli("alerts", folder, output, "--test", "edits")
    assert result.code == 1
    assert result.out.startswith("email: FAILED: SMTP 127.0.0.1:")
    assert result.out.endswith("webhook: sent\n")


def test_the_demo_rule_is_judged_and_does_not_fire(tmp_path, run_cli):
    queries = tmp_path / "queries"
    shutil.copytree(REPO / "queries", queries, ignore=shutil.ignore_patterns(".lock", ".reruns"))
    shutil.copy(REPO / "config.yaml", queries / "config.yaml")
    output = tmp_path / "output"
    result = run_cli("run", queries, output, "--now", "2026-11-01", "--no-graphite",
                     "-r", "weekly_toggles", "--fail-on-alert", "-l", "debug")
    assert result.code == 0, result.err
    assert "alert" not in result.err.replace("alerts_cmd", "")
    assert not (output / ".reportupdater-alerts.json").exists()
    report = load_config(queries).report("weekly_toggles")
    [(series, verdict)] = judge_report(report, output, dt.datetime(2026, 11, 1), [])
    assert (verdict.failing, verdict.detail) == (
        False, "306 on 2026-10-25 is within the limits of the median 289 of the previous 4 "
               "point(s)")
    assert run_cli("alerts", queries, output).out == "No alert is firing.\n"


def test_a_report_without_owner_mails_alerting_to_and_statsd_counts_the_alert(
        make_folder, run_cli, tmp_path, smtp_server):
    import socket

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a real UDP listener
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(30)
    port = receiver.getsockname()[1]
    folder = make_folder(f"""\
alerting:
    email: {{smtp_host: 127.0.0.1, smtp_port: {smtp_server.port}, from: ru@example.org,
             to: [analytics@example.org]}}
statsd: {{host: 127.0.0.1, port: {port}, prefix: ru}}
reports:
    edits:
        type: script
        granularity: days
        starts: 2026-10-01
        alerts:
            - {{name: low_edits, column: edits, below: 10}}
""", executables={"edits": VALUES_SCRIPT})
    write_values(folder, "date\tedits", ["-\t2026-10-01\t3"])
    try:
        assert run_cli("run", folder, tmp_path / "out", "--now", "2026-10-02").code == 0
        packets = []
        while not any(b"ru.alerts.edits.low_edits.fired:1|c" in p for p in packets):
            packets.append(receiver.recv(65536))
    finally:
        receiver.close()
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["analytics@example.org"]


def test_a_rule_on_a_column_the_timeline_lacks_is_an_error_and_the_others_run(
        edits_folder, run_cli, tmp_path, webhook_server, smtp_server):
    report = EDITS + "            - {name: typo, column: edit, above: 1}\n"
    folder = edits_folder(report, rows=["-\t2026-10-01\t3"])
    output = tmp_path / "out"
    result = run_cli("run", folder, output, "--now", "2026-10-02")
    assert result.code == 0
    assert f"ERROR alerts: report 'edits' ({output}/edits.tsv): alert rule 'typo' reads " \
           "column 'edit', which the timeline does not have (columns: date, edits)" \
           in result.err
    assert [p.body["rule"] for p in webhook_server.wait_for(1)] == ["low_edits"]


def test_stale_fires_for_a_report_that_never_wrote_a_file(make_folder, run_cli, tmp_path,
                                                          webhook_server):
    folder = make_folder(config_text(None, webhook_server.url, """\
    r:
        type: script
        granularity: days
        starts: 2026-10-01
        alerts:
            - {name: fresh, column: edits, stale: 2}
"""), executables={"r": "#!/bin/sh\nexit 3\n"})
    assert run_cli("run", folder, tmp_path / "out", "--now", "2026-10-04").code == 1
    [post] = webhook_server.wait_for(1)
    assert post.body["detail"] == ("no data for the last 2 interval(s) due (2026-10-02 to "
                                   "2026-10-03); there is no data at all")
