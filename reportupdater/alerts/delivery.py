"""Deliver one alert message by email (smtplib) or webhook (urllib).

Input: a queued message (the facts of a fired or resolved incident, see
``sink.compose``) and the ``alerting`` settings. Output: an email with a
text and an HTML part and the chart both inline and attached, or one JSON
POST; ``DeliveryError`` when the server is down, refuses or times out.
Nothing here decides what to send or when: that is ``sink``'s job.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from typing import Any

from ..errors import DeliveryError
from .chart import draw_chart
from .settings import AlertingSettings, EmailSettings, WebhookSettings

WEBHOOK_VERSION = 1
BODY_POINTS = 14


def subject(message: dict) -> str:
    """``[reportupdater] FIRING: report (series) rule 'name'``."""
    state = "FIRING" if message["event"] == "fired" else "RESOLVED"
    test = "[TEST] " if message.get("test") else ""
    return (f"{test}[reportupdater] {state}: {message['report']} "
            f"({message['series_name']}) rule {message['rule']!r}")


def _facts(message: dict) -> list[tuple[str, str]]:
    """The lines of the body that say what happened, as (label, text)."""
    fired = message["event"] == "fired"
    rows = [("Report", message["report"]), ("Series", message["series_name"]),
            ("Rule", f"{message['rule']}: {message['column']} {message['condition']}"),
            ("State", "firing" if fired else "resolved")]
    rows.append(("Value", f"{message.get('value') or 'no value'}"
                          + (f" on {message['date']}" if message.get("date") else "")))
    if message.get("baseline") is not None:
        rows.append(("Baseline", f"median {message['baseline']}"))
    limits = [f"{name} {message[key]}" for name, key in (("low", "low"), ("high", "high"))
              if message.get(key) is not None]
    if limits:
        rows.append(("Threshold", ", ".join(limits)))
    rows.append(("Why", message.get("detail") or "-"))
    rows.append(("Fired at", message["fired_at"]))
    if not fired:
        rows.append(("Resolved at", message["resolved_at"]))
    if message.get("description"):
        rows.append(("Description", message["description"]))
    if message.get("ticket"):
        rows.append(("Ticket", message["ticket"]))
    if message.get("dashboard_url"):
        rows.append(("Dashboard", message["dashboard_url"]))
    rows.append(("Incident", message["incident_id"]))
    return rows


def _recent(message: dict) -> list[tuple[str, str]]:
    return [(label, "" if value is None else value)
            for label, value in message.get("points", [])[-BODY_POINTS:]]


def email_text(message: dict) -> str:
    width = max(len(label) for label, _ in _facts(message))
    lines = [f"{label + ':':<{width + 1}} {text}" for label, text in _facts(message)]
    lines += ["", f"Last {BODY_POINTS} data points:"]
    lines += [f"  {label}  {value or '(no value)'}" for label, value in _recent(message)]
    lines += ["", "The chart of the last 90 data points is attached.",
              "-- reportupdater"]
    return "\n".join(lines) + "\n"


def email_html(message: dict, cid: str) -> str:
    facts = "".join(f"<tr><th align='left'>{escape(label)}</th><td>{escape(text)}</td></tr>"
                    for label, text in _facts(message))
    points = "".join(f"<tr><td>{escape(label)}</td><td align='right'>"
                     f"{escape(value) or '<i>no value</i>'}</td></tr>"
                     for label, value in _recent(message))
    return (f"<html><body><h3>{escape(subject(message))}</h3><table>{facts}</table>"
            f"<p><img src='cid:{cid[1:-1]}' alt='chart'></p>"
            f"<h4>Last {BODY_POINTS} data points</h4><table>{points}</table>"
            "</body></html>")


def chart_png(message: dict) -> bytes:
    return draw_chart(f"{message['report']} ({message['series_name']}): {message['column']}",
                      [(label, value) for label, value in message.get("points", [])],
                      low=message.get("low"), high=message.get("high"),
                      baseline=message.get("baseline"),
                      marked=message.get("date") if message["event"] == "fired" else None)


def email_message(message: dict, settings: EmailSettings) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = subject(message)
    email["From"] = settings.sender
    email["To"] = ", ".join(message["to"])
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = make_msgid("reportupdater")
    email["X-Reportupdater-Incident"] = message["incident_id"]
    png = chart_png(message)
    cid = make_msgid("chart")
    email.set_content(email_text(message))
    email.add_alternative(email_html(message, cid), subtype="html")
    email.get_payload()[1].add_related(png, "image", "png", cid=cid,
                                       filename="chart.png", disposition="inline")
    email.add_attachment(png, maintype="image", subtype="png",
                         filename=f"{message['report']}-{message['rule']}.png")
    return email


def send_email(message: dict, settings: EmailSettings, timeout: float) -> None:
    """Raises DeliveryError."""
    if not message.get("to"):
        raise DeliveryError("no recipient: the report has no owner and alerting.email "
                            "has no 'to'")
    email = email_message(message, settings)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                password = settings.password_file.read_text(encoding="utf-8").strip()
                smtp.login(settings.username, password)
            refused = smtp.send_message(email, settings.sender, list(message["to"]))
    except (OSError, smtplib.SMTPException, UnicodeError) as e:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: "
                            f"{type(e).__name__}: {e}") from e
    if refused:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port} refused "
                            f"{', '.join(sorted(refused))}")


def webhook_payload(message: dict) -> dict[str, Any]:
    """The JSON a webhook gets: the email's facts, and UTC timestamps."""
    keys = ("incident_id", "fingerprint", "report", "rule", "column", "condition",
            "explode", "series", "date", "value", "baseline", "low", "high", "detail",
            "fired_at", "resolved_at", "owner", "description", "ticket", "dashboard_url")
    payload = {"version": WEBHOOK_VERSION,
               "status": "firing" if message["event"] == "fired" else "resolved",
               "test": bool(message.get("test"))}
    payload.update({key: message.get(key) for key in keys})
    payload["points"] = [[label, value] for label, value in message.get("points", [])]
    return payload


def post_webhook(message: dict, settings: WebhookSettings, timeout: float) -> None:
    """Raises DeliveryError unless the server answers 2xx."""
    body = json.dumps(webhook_payload(message), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "reportupdater",
               **dict(settings.headers)}
    request = urllib.request.Request(settings.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as e:
        raise DeliveryError(f"webhook {settings.url}: HTTP {e.code} {e.reason}") from e
    except (OSError, ValueError) as e:  # URLError, timeouts, refused connections
        raise DeliveryError(f"webhook {settings.url}: {type(e).__name__}: {e}") from e


def deliver(channel: str, message: dict, alerting: AlertingSettings) -> None:
    """Send ``message`` on ``channel``. Raises DeliveryError."""
    if channel == "email" and alerting.email is not None:
        send_email(message, alerting.email, alerting.timeout)
    elif channel == "webhook" and alerting.webhook is not None:
        post_webhook(message, alerting.webhook, alerting.timeout)
    else:
        raise DeliveryError(f"channel {channel!r} is not configured under alerting")
