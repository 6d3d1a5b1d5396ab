"""Alerts end to end: rules judged after a run, incidents, email and webhook
delivery against real SMTP (aiosmtpd) and HTTP servers on loopback."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

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
