"""Incidents: the small state machine between a rule's verdicts and messages.

Input: the incidents open before a run and each series' ``Verdict`` now.
Output: the incidents open after it, and the events to deliver: ``fired``
when a series starts failing, ``resolved`` when it passes again; a series
that keeps failing (or is not judged) makes no event. Pure functions; the
files live in ``store``.

A series is named by its fingerprint: a hash of the report, the explode
values, the ``where`` and dimension values and the rule name (as
Alertmanager's labels). An incident's id is a hash of the fingerprint and
the date of the point that fired it: stable across retries, so the run that
follows a killed one queues the same messages under the same names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Iterable, Mapping

from .evaluate import Verdict
from .series import Series
from .settings import number_text

FIRED = "fired"
RESOLVED = "resolved"


def utc_text(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(report: str, explode: Iterable[tuple[str, str]],
                labels: Iterable[tuple[str, str]], rule: str) -> str:
    identity = json.dumps([report, sorted(explode), sorted(labels), rule],
                          ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def series_fingerprint(series: Series) -> str:
    return fingerprint(series.report, series.explode, series.labels, series.rule.name)


def incident_id(fingerprint_: str, fired_date: str | None) -> str:
    return hashlib.sha256(f"{fingerprint_}|{fired_date or '-'}".encode()).hexdigest()[:20]


def _number(value: Any) -> str | None:
    return None if value is None else number_text(value)


def facts(series: Series, verdict: Verdict) -> dict[str, Any]:
    """What a message says about a series and its verdict (JSON-ready)."""
    return {
        "report": series.report,
        "rule": series.rule.name,
        "column": series.rule.column,
        "condition": series.rule.describe(),
        "explode": dict(series.explode),
        "series": dict(series.labels),
        "series_name": series.name(),
        "date": verdict.date,
        "value": _number(verdict.value),
        "baseline": _number(verdict.baseline),
        "low": _number(verdict.low),
        "high": _number(verdict.high),
        "detail": verdict.detail,
    }


def advance(incidents: Mapping[str, dict], judged: Iterable[tuple[Series, Verdict]],
            now: dt.datetime) -> tuple[dict[str, dict], list[dict]]:
    """The incidents after these verdicts, and the events they make, in order."""
    after = {fp: dict(incident) for fp, incident in incidents.items()}
    events: list[dict] = []
    for series, verdict in judged:
        fp = series_fingerprint(series)
        current = after.get(fp)
        if verdict.failing and current is None:
            incident = {"incident_id": incident_id(fp, verdict.date), "fingerprint": fp,
                        "status": "firing", "fired_at": utc_text(now),
                        **facts(series, verdict)}
            after[fp] = incident
            events.append({"event": FIRED, **incident, "resolved_at": None})
        elif verdict.failing:
            current.update(last_date=verdict.date, last_value=_number(verdict.value),
                           detail=verdict.detail)
        elif verdict.failing is False and current is not None:
            del after[fp]
            events.append({**current, **facts(series, verdict), "event": RESOLVED,
                           "status": "resolved", "resolved_at": utc_text(now),
                           "fired_date": current.get("date"),
                           "fired_value": current.get("value")})
    return after, events


def forget_removed_rules(incidents: Mapping[str, dict], rules: Mapping[str, set[str]]
                         ) -> dict[str, dict]:
    """Drop incidents of rules (or reports) the config no longer has; ``rules``
    maps every report of the config to its rule names."""
    return {fp: incident for fp, incident in incidents.items()
            if incident.get("rule") in rules.get(incident.get("report"), ())}
