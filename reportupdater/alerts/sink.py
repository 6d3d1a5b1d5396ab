"""Check the alert rules after a run, and deliver what they fire or resolve.

Input: a config, its output folder and ``now``; after a run, the timelines
on disk. Output: the open incidents in the output folder, a WARNING log line
and a StatsD counter per fired or resolved incident, and a message per
incident and channel, queued in the outbox and then delivered (oldest
first, so the messages a previous run could not deliver go first).

The order is what makes delivery safe: messages are queued before the
incidents are recorded, and removed from the outbox only once delivered, so
a killed run loses nothing and sends a message twice at most (at least once).
A delivery failure is logged and the message stays queued: it never fails
the run or touches the data.

``AlertSink`` is the run's sink; ``check_alerts`` does the same for a
caller of its own; ``send_test`` sends a sample through every channel.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import urllib.parse
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from .. import schedule, timeline as tl
from ..config import Config, ReportConfig
from ..errors import DeliveryError, TimelineError
from .evaluate import Verdict, judge
from .incidents import (FIRED, advance, facts, forget_removed_rules, series_fingerprint,
                        utc_text)
from .series import ColumnMissing, Series, cut_series, explode_matches
from .settings import AlertingSettings, AlertRule, Condition, number_text
from .store import AlertOutbox, StateError, read_incidents, write_incidents

log = logging.getLogger(__name__)

CHART_POINTS = 90
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


class Counter(Protocol):
    """What the sink needs of a StatsD client."""

    def incr(self, stat: str, count: int = 1) -> None: ...


@dataclass
class AlertResult:
    """What one check did."""

    fired: list[dict] = field(default_factory=list)
    resolved: list[dict] = field(default_factory=list)
    firing: list[dict] = field(default_factory=list)  # open after the check
    delivered: int = 0
    queued: int = 0  # messages left in the outbox
    problems: list[str] = field(default_factory=list)


def due_labels(report: ReportConfig, now: dt.datetime, count: int) -> list[str]:
    """The dates of the last ``count`` intervals due at ``now``, oldest first."""
    bounds = schedule.window(report, now)
    if bounds is None:
        return []
    g, (first, last) = report.granularity, bounds
    starts = []
    start = last
    while start >= first and len(starts) < count:
        starts.append(start)
        start = g.add(start, -1)
    return [g.format(s) for s in reversed(starts)]


def judge_report(report: ReportConfig, output_folder: Path, now: dt.datetime,
                 problems: list[str]) -> list[tuple[Series, Verdict]]:
    """Every series of every rule of ``report``, judged; what can't be judged
    (an unreadable file, a column the timeline lacks) goes to ``problems``."""
    judged = []
    for explode in report.explode_combinations():
        matching = [rule for rule in report.alerts if explode_matches(rule, explode)]
        if not matching:
            continue
        path = report.timeline_path(output_folder, explode)
        try:
            timeline = tl.read_timeline(path, report.granularity)
        except TimelineError as e:
            problems.append(f"alerts: report {report.key!r}: {e}")
            continue
        for rule in matching:
            if timeline is None:  # no file yet: only stale has something to judge
                if rule.judges_values:
                    continue
                labels = tuple((k, v) for k, v in rule.where if k not in explode)
                cut = [Series(report.key, rule, tuple(explode.items()), labels, ())]
            else:
                try:
                    cut = cut_series(report.key, rule, explode, timeline.header,
                                     timeline.rows)
                except ColumnMissing as e:
                    problems.append(f"alerts: report {report.key!r} ({path}): {e}")
                    continue
            due = due_labels(report, now, rule.intervals or 0)
            judged += [(series, judge(series, due)) for series in cut]
    return judged


def dashboard_link(template: str | None, report: str, explode: Mapping[str, str]
                   ) -> str | None:
    if not template:
        return None
    values = {name: urllib.parse.quote(value, safe="") for name, value in explode.items()}
    values["report"] = urllib.parse.quote(report, safe="")

    class _Keep(dict):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    try:
        return template.format_map(_Keep(values))
    except (ValueError, IndexError, AttributeError):
        return template


def compose(event: dict, series: Series | None, report: ReportConfig | None,
            alerting: AlertingSettings | None) -> dict[str, Any]:
    """A queued message: the event, the series' last points, and who reads it."""
    points = [[label, number_text(value) if value is not None else None]
              for label, value in (series.points[-CHART_POINTS:] if series else ())]
    owner = list(report.owner) if report is not None else []
    to = owner or list(alerting.email.to if alerting and alerting.email else ())
    return {**event, "points": points, "owner": owner, "to": to,
            "description": report.description if report else None,
            "ticket": report.ticket if report else None,
            "dashboard_url": dashboard_link(alerting.dashboard_url if alerting else None,
                                            event["report"], event.get("explode") or {})}


def _metric(text: str) -> str:
    return _UNSAFE.sub("_", text) or "_"


def _announce(message: dict, statsd: Counter | None) -> None:
    verb = "fired" if message["event"] == FIRED else "resolved"
    log.warning("alert %s: report %r (%s) rule %r: %s [incident %s]", verb,
                message["report"], message["series_name"], message["rule"],
                message["detail"], message["incident_id"])
    if statsd is not None:
        try:
            statsd.incr(f"alerts.{_metric(message['report'])}.{_metric(message['rule'])}"
                        f".{verb}")
        except OSError as e:
            log.warning("statsd: cannot count the alert: %s", e)


def check_alerts(config: Config, output_folder: Path, now: dt.datetime,
                 reports: Sequence[str] = (), statsd: Counter | None = None,
                 deliver: bool = True) -> AlertResult:
    """Judge the rules of ``reports`` (default: all), queue and record what
    changed, then deliver the outbox. Never raises for delivery problems."""
    result = AlertResult()
    output_folder = Path(output_folder)
    try:
        before = read_incidents(output_folder)
    except StateError as e:
        result.problems.append(str(e))
        log.error("alerts: %s; no alert is judged until it is fixed", e)
        return result
    selected = [r for r in config.reports if r.alerts and (not reports or r.key in reports)]
    judged: list[tuple[Series, Verdict]] = []
    for report in selected:
        judged += judge_report(report, output_folder, now, result.problems)
    for problem in result.problems:
        log.error("%s", problem)
    rules = {key: _AnyRule() for key in config.report_keys}  # reports with errors
    rules.update({r.key: {rule.name for rule in r.alerts} for r in config.reports})
    after, events = advance(forget_removed_rules(before, rules), judged, now)
    series_of = {series_fingerprint(series): series for series, _ in judged}
    outbox = AlertOutbox(output_folder)
    channels = config.alerting.channels if config.alerting else ()
    messages = [compose(event, series_of[event["fingerprint"]],
                        config.report(event["report"]), config.alerting) for event in events]
    try:
        for message in messages:
            for channel in channels:
                if channel == "email" and not message["to"]:
                    log.warning("alerts: report %r has no owner and alerting.email has no "
                                "'to': no email about incident %s", message["report"],
                                message["incident_id"])
                    continue
                outbox.add(message, channel)
        if after != before:
            write_incidents(output_folder, after)
    except OSError as e:
        log.error("alerts: cannot write to %s: %s; the changes of this check are judged "
                  "again by the next run", output_folder, e)
        result.problems.append(str(e))
        return result
    for message in messages:
        _announce(message, statsd)
        (result.fired if message["event"] == FIRED else result.resolved).append(message)
    result.firing = sorted(after.values(), key=lambda i: (i["report"], i["rule"],
                                                          i.get("series_name", "")))
    if deliver:
        result.delivered = deliver_outbox(output_folder, config.alerting)
    result.queued = outbox.count()
    return result


class _AnyRule:
    """The rules of a report whose config has errors: unknown, so all are kept."""

    def __contains__(self, name: object) -> bool:
        return True


def deliver_outbox(output_folder: Path, alerting: AlertingSettings | None) -> int:
    """Deliver the queued messages, oldest first; how many were delivered. A
    channel that fails is not tried again in this call: its messages wait."""
    outbox = AlertOutbox(output_folder)
    entries = outbox.entries()
    if not entries:
        return 0
    delivered = 0
    down: dict[str, str] = {}
    waiting: dict[str, int] = {}
    for path, entry in entries:
        channel = entry.get("channel", "?")
        if alerting is None or channel not in alerting.channels:
            waiting[channel] = waiting.get(channel, 0) + 1
            continue
        if channel in down:
            continue
        try:
            deliver_message(channel, entry["message"], alerting)
        except DeliveryError as e:
            down[channel] = str(e)
            outbox.failed(path, entry, str(e))
            log.error("alerts: %s delivery failed: %s; the message stays in %s and the "
                      "next run tries again", channel, e, outbox.path)
            continue
        outbox.delivered(path)
        delivered += 1
        log.info("alerts: delivered %s by %s (incident %s)", entry["message"]["event"],
                 channel, entry["message"]["incident_id"])
    for channel, count in waiting.items():
        log.warning("alerts: %d message(s) in %s wait for channel %r, which 'alerting' "
                    "does not configure", count, outbox.path, channel)
    return delivered


def firing_incidents(output_folder: Path) -> list[dict]:
    """The open incidents, by report and rule. Raises StateError."""
    return sorted(read_incidents(output_folder).values(),
                  key=lambda i: (i.get("report", ""), i.get("rule", ""),
                                 i.get("series_name", "")))


class AlertSink:
    """The sink that checks the alert rules of the reports run, at the end."""

    def __init__(self, config: Config, output_folder: Path, now: dt.datetime,
                 reports: Sequence[str] = (), statsd: Counter | None = None):
        self.config = config
        self.output_folder = Path(output_folder)
        self.now = now
        self.reports = tuple(reports)
        self.statsd = statsd
        self.result: AlertResult | None = None

    @property
    def firing(self) -> int:
        """Incidents open after the run (for ``run --fail-on-alert``)."""
        return len(self.result.firing) if self.result else 0

    def run_finished(self, summary: object, seconds: float) -> None:
        if getattr(summary, "interrupted", False):
            return  # the next run judges what this one wrote
        self.result = check_alerts(self.config, self.output_folder, self.now,
                                   self.reports, self.statsd)


def send_test(config: Config, output_folder: Path, report: ReportConfig, now: dt.datetime
              ) -> list[tuple[str, str | None]]:
    """Send a sample "fired" message about ``report`` through every channel,
    directly (not queued), with the newest points of its first rule's first
    series when there are any. Each channel and its error, or None if it went."""
    judged = judge_report(report, output_folder, now, []) if report.alerts else []
    if judged:
        series, verdict = judged[0]
    else:
        rule = report.alerts[0] if report.alerts else AlertRule(
            name="test", column="-", condition=Condition.ABOVE, threshold=Fraction(0))
        series, verdict = Series(report.key, rule, (), (), ()), Verdict(None)
    verdict = dataclasses.replace(verdict, detail="a test alert sent by 'reportupdater "
                                  "alerts --test'; nothing is wrong")
    event = {"event": FIRED, "incident_id": "test-" + now.strftime("%Y%m%dT%H%M%SZ"),
             "fingerprint": "test", "status": "firing", "fired_at": utc_text(now),
             "resolved_at": None, "test": True, **facts(series, verdict)}
    message = compose(event, series, report, config.alerting)
    _announce(message, None)
    outcomes: list[tuple[str, str | None]] = []
    for channel in (config.alerting.channels if config.alerting else ()):
        try:
            deliver_message(channel, message, config.alerting)
            outcomes.append((channel, None))
        except DeliveryError as e:
            outcomes.append((channel, str(e)))
    return outcomes


def deliver_message(channel: str, message: dict, alerting: AlertingSettings) -> None:
    """Send one message; smtplib, ssl and urllib load only when something is sent,
    so that the hourly run with nothing to deliver does not pay for them."""
    from .delivery import deliver

    deliver(channel, message, alerting)
