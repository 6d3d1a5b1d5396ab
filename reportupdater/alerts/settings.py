"""What the config says about alerts: report metadata, rules and delivery.

Input: the raw YAML values of a report's ``owner``, ``description``,
``ticket``, ``ends`` and ``alerts`` keys and of the top-level ``alerting``
key. Output: frozen values (``AlertRule``, ``AlertingSettings``...), and a
problem for every bad value through a ``Problems`` callable that the config
loader turns into messages naming the file, line, report and key.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Mapping

from ..addresses import EMAIL as _EMAIL, URL as _URL, parse_addresses

# (message, key path under the section being read, severity)
Problems = Callable[[str, tuple[str, ...], str], None]

_RULE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
RULE_KEYS = ("name", "column", "where", "by", "below", "above", "change", "stale")
CHANGE_KEYS = ("drop", "rise", "baseline")
DEFAULT_BASELINE = 7
EMAIL_KEYS = ("smtp_host", "smtp_port", "from", "to", "starttls", "username",
              "password_file")
WEBHOOK_KEYS = ("url", "headers")
ALERTING_KEYS = ("email", "webhook", "dashboard_url", "timeout")
DEFAULT_TIMEOUT = 10.0


class Condition(enum.StrEnum):
    BELOW = "below"
    ABOVE = "above"
    CHANGE = "change"
    STALE = "stale"


@dataclass(frozen=True)
class AlertRule:
    """One rule of a report's ``alerts`` list; exactly one condition is set."""

    name: str
    column: str
    condition: Condition
    threshold: Fraction | None = None  # below, above
    drop: Fraction | None = None  # change: fell by more than this fraction
    rise: Fraction | None = None  # change: rose by more than this factor
    baseline: int = DEFAULT_BASELINE  # change: points the median is taken over
    intervals: int | None = None  # stale: no data for this many due intervals
    where: tuple[tuple[str, str], ...] = ()
    by: tuple[str, ...] | None = None  # dimension columns; None: the text columns

    @property
    def judges_values(self) -> bool:
        return self.condition is not Condition.STALE

    def describe(self) -> str:
        """The condition as a person reads it: ``below 10``, ``stale 3``..."""
        if self.condition in (Condition.BELOW, Condition.ABOVE):
            return f"{self.condition} {number_text(self.threshold)}"
        if self.condition is Condition.STALE:
            return f"stale {self.intervals} (no data for the last {self.intervals} " \
                   "interval(s) due)"
        parts = []
        if self.drop is not None:
            parts.append(f"drop > {number_text(self.drop)}")
        if self.rise is not None:
            parts.append(f"rise > x{number_text(self.rise)}")
        return (f"change ({' or '.join(parts)} against the median of the previous "
                f"{self.baseline} point(s))")


@dataclass(frozen=True)
class EmailSettings:
    smtp_host: str
    sender: str  # the config's ``from``
    smtp_port: int = 25
    to: tuple[str, ...] = ()  # for reports without an owner
    starttls: bool = False
    username: str | None = None
    password_file: Path | None = None


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AlertingSettings:
    """The top-level ``alerting`` key: where fired and resolved incidents go."""

    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None
    dashboard_url: str | None = None  # a template: {report} and explode placeholders
    timeout: float = DEFAULT_TIMEOUT  # seconds per SMTP or HTTP delivery

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(name for name, on in (("email", self.email), ("webhook", self.webhook))
                     if on is not None)


def number_text(value: Fraction | None) -> str:
    """A config number as written: 10, 0.5, 2.5."""
    if value is None:
        return "-"
    if value.denominator == 1:
        return str(value.numerator)
    return str(float(value))


def _number(value: Any) -> Fraction | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return Fraction(str(value))


# -- report metadata -----------------------------------------------------------


# -- alert rules -------------------------------------------------------------------


def read_rules(raw: Any, problem: Problems, explode_by: Mapping[str, tuple[str, ...]]
               ) -> tuple[AlertRule, ...]:
    """A report's ``alerts`` list. Every problem is reported; bad rules are left out."""
    if not isinstance(raw, list):
        problem(f"alerts must be a list of rules (each with name, column and one of "
                f"{', '.join(c.value for c in Condition)}), not {raw!r}", ("alerts",),
                "error")
        return ()
    rules: list[AlertRule] = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        rule = _read_rule(index, item, problem, explode_by)
        if rule is None:
            continue
        if rule.name in names:
            problem(f"alert rule name {rule.name!r} is used twice; each rule of a report "
                    "needs its own name", ("alerts", str(index), "name"), "error")
            continue
        names.add(rule.name)
        rules.append(rule)
    return tuple(rules)


class _Bad(Exception):
    """A rule value was refused (already reported)."""


def _read_rule(index: int, raw: Any, problem: Problems,
               explode_by: Mapping[str, tuple[str, ...]]) -> AlertRule | None:
    at = ("alerts", str(index))
    if not isinstance(raw, dict):
        problem(f"alert rule {index + 1} must be a mapping with name, column and a "
                f"condition, not {raw!r}", at, "error")
        return None
    name = raw.get("name")
    label = f"alert rule {name!r}" if isinstance(name, str) else f"alert rule {index + 1}"
    errors = 0

    def bad(message: str, *key: str) -> None:
        nonlocal errors
        errors += 1
        problem(f"{label}: {message}", at + key, "error")

    for key in raw:
        if key not in RULE_KEYS:
            bad(f"unknown key {key!r} (known: {', '.join(RULE_KEYS)})", str(key))
    if name is None:
        bad("name is required (letters, digits, '_', '-' or '.')", "name")
    elif not isinstance(name, str) or not _RULE_NAME.fullmatch(name):
        bad(f"name must be letters, digits, '_', '-' or '.', not {name!r}", "name")
    column = raw.get("column")
    if not isinstance(column, str) or not column.strip():
        bad(f"column must name a value column of the report's TSV, not {column!r}",
            "column")
    where = _read_where(raw.get("where"), bad, explode_by)
    by = _read_by(raw.get("by"), bad)
    conditions = [c for c in Condition if c.value in raw]
    if len(conditions) != 1:
        found = ", ".join(c.value for c in conditions) or "none"
        bad(f"needs exactly one condition of below, above, change and stale, not {found} "
            "(write one rule per condition)", *(conditions[1].value,) if conditions else ())
        return None
    condition = conditions[0]
    value = raw[condition.value]
    fields: dict[str, Any] = {}
    if condition in (Condition.BELOW, Condition.ABOVE):
        fields["threshold"] = _number(value)
        if fields["threshold"] is None:
            bad(f"{condition} must be a number, not {value!r}", condition.value)
    elif condition is Condition.STALE:
        if type(value) is not int or value < 1:
            bad(f"stale must be a whole number of intervals >= 1, not {value!r}", "stale")
        fields["intervals"] = value
    else:
        fields.update(_read_change(value, bad))
    if errors:
        return None
    return AlertRule(name=name, column=column.strip(), condition=condition, where=where,
                     by=by, **fields)


def _read_where(raw: Any, bad: Callable[..., None],
                explode_by: Mapping[str, tuple[str, ...]]) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        bad(f"where must map columns or explode placeholders to values, not {raw!r}",
            "where")
        return ()
    pairs = []
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            bad(f"where {key!r} must be one value, not {value!r}", "where", str(key))
            continue
        value = str(value)
        values = explode_by.get(str(key))
        if values is not None and value not in values:
            bad(f"where {key!r} is {value!r}, which is not one of the report's explode "
                f"values ({', '.join(values[:10])}{', ...' if len(values) > 10 else ''})",
                "where", str(key))
            continue
        pairs.append((str(key), value))
    return tuple(sorted(pairs))


def _read_by(raw: Any, bad: Callable[..., None]) -> tuple[str, ...] | None:
    if raw is None:
        return None
    items = [raw] if isinstance(raw, str) else raw
    if (not isinstance(items, list)
            or not all(isinstance(item, str) and item.strip() for item in items)):
        bad(f"by must be a column name or a list of them, not {raw!r}", "by")
        return None
    return tuple(item.strip() for item in items)


def _read_change(raw: Any, bad: Callable[..., None]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        bad(f"change must be a mapping with drop and/or rise and an optional baseline, "
            f"not {raw!r}", "change")
        return {}
    for key in raw:
        if key not in CHANGE_KEYS:
            bad(f"unknown key {key!r} in change (known: {', '.join(CHANGE_KEYS)})",
                "change", str(key))
    if "drop" not in raw and "rise" not in raw:
        bad("change needs drop (a fraction, e.g. 0.5), rise (a factor, e.g. 2.0) or both",
            "change")
    fields: dict[str, Any] = {}
    if "drop" in raw:
        drop = _number(raw["drop"])
        if drop is None or not 0 < drop < 1:
            bad(f"change.drop must be a fraction between 0 and 1 (0.5: fell by more than "
                f"half), not {raw['drop']!r}", "change", "drop")
        fields["drop"] = drop
    if "rise" in raw:
        rise = _number(raw["rise"])
        if rise is None or rise <= 1:
            bad(f"change.rise must be a factor > 1 (2.0: rose to more than twice), not "
                f"{raw['rise']!r}", "change", "rise")
        fields["rise"] = rise
    baseline = raw.get("baseline", DEFAULT_BASELINE)
    if type(baseline) is not int or baseline < 1:
        bad(f"change.baseline must be a whole number of data points >= 1, not "
            f"{baseline!r}", "change", "baseline")
    fields["baseline"] = baseline
    return fields


# -- delivery ----------------------------------------------------------------------


def read_alerting(raw: Any, problem: Problems, query_folder: Path) -> AlertingSettings | None:
    """The top-level ``alerting`` key; None (after reporting why) if it is unusable."""
    if not isinstance(raw, dict):
        problem(f"'alerting' must be a mapping with email and/or webhook, not {raw!r}",
                (), "error")
        return None
    errors = 0

    def bad(message: str, *key: str) -> None:
        nonlocal errors
        errors += 1
        problem(message, key, "error")

    for key in raw:
        if key not in ALERTING_KEYS:
            problem(f"unknown key {key!r} in alerting (ignored; known keys: "
                    f"{', '.join(ALERTING_KEYS)})", (str(key),), "warning")
    email = _read_email(raw["email"], bad, query_folder) if "email" in raw else None
    webhook = _read_webhook(raw["webhook"], bad) if "webhook" in raw else None
    dashboard = raw.get("dashboard_url")
    if dashboard is not None and (not isinstance(dashboard, str)
                                  or not _URL.fullmatch(dashboard)):
        bad(f"alerting dashboard_url must be a URL template such as "
            f"'https://grafana.example.org/d/x?var-wiki={{wiki}}', not {dashboard!r}",
            "dashboard_url")
    timeout = raw.get("timeout", DEFAULT_TIMEOUT)
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not 0 < timeout <= 600):
        bad(f"alerting timeout must be a number of seconds > 0 and <= 600, not "
            f"{timeout!r}", "timeout")
    if errors:
        return None
    return AlertingSettings(email=email, webhook=webhook, dashboard_url=dashboard,
                            timeout=float(timeout))


def _read_email(raw: Any, bad: Callable[..., None], query_folder: Path
                ) -> EmailSettings | None:
    if not isinstance(raw, dict):
        bad(f"alerting email must be a mapping with smtp_host and from, not {raw!r}",
            "email")
        return None
    for key in raw:
        if key not in EMAIL_KEYS and key != "password":  # refused below
            bad(f"unknown key {key!r} in alerting email (known: {', '.join(EMAIL_KEYS)})",
                "email", str(key))
    host = raw.get("smtp_host")
    if not isinstance(host, str) or not host:
        bad(f"alerting email smtp_host must be a host name, not {host!r}", "email",
            "smtp_host")
    port = raw.get("smtp_port", 25)
    if type(port) is not int or not 1 <= port <= 65535:
        bad(f"alerting email smtp_port must be a port number (1-65535), not {port!r}",
            "email", "smtp_port")
    sender = raw.get("from")
    if not isinstance(sender, str) or not _EMAIL.fullmatch(sender):
        bad(f"alerting email from must be an email address, not {sender!r}", "email",
            "from")
    to: tuple[str, ...] = ()
    if "to" in raw:
        try:
            to = parse_addresses(raw["to"])
        except ValueError as e:
            bad(f"alerting email to {e}", "email", "to")
    starttls = raw.get("starttls", False)
    if not isinstance(starttls, bool):
        bad(f"alerting email starttls must be true or false, not {starttls!r}", "email",
            "starttls")
    username = raw.get("username")
    if username is not None and (not isinstance(username, str) or not username):
        bad(f"alerting email username must be text, not {username!r}", "email", "username")
    password_file = raw.get("password_file")
    if password_file is not None and (not isinstance(password_file, str)
                                      or not password_file):
        bad(f"alerting email password_file must be a file path, not {password_file!r}",
            "email", "password_file")
        password_file = None
    if (username is None) != (password_file is None):
        bad("alerting email username and password_file go together (SMTP login)", "email",
            "username" if username is None else "password_file")
    if "password" in raw:
        bad("an inline SMTP password is not allowed: put it in a file only this user can "
            "read and set password_file to its path", "email", "password")
    if password_file is not None:
        password_file = Path(password_file).expanduser()
        if not password_file.is_absolute():
            password_file = query_folder / password_file
    return EmailSettings(smtp_host=host, sender=sender, smtp_port=port, to=to,
                         starttls=starttls, username=username,
                         password_file=password_file)


def _read_webhook(raw: Any, bad: Callable[..., None]) -> WebhookSettings | None:
    if not isinstance(raw, dict):
        bad(f"alerting webhook must be a mapping with url, not {raw!r}", "webhook")
        return None
    for key in raw:
        if key not in WEBHOOK_KEYS:
            bad(f"unknown key {key!r} in alerting webhook (known: "
                f"{', '.join(WEBHOOK_KEYS)})", "webhook", str(key))
    url = raw.get("url")
    if not isinstance(url, str) or not _URL.fullmatch(url):
        bad(f"alerting webhook url must be an http:// or https:// URL, not {url!r}",
            "webhook", "url")
    headers = raw.get("headers") or {}
    pairs: list[tuple[str, str]] = []
    if not isinstance(headers, dict):
        bad(f"alerting webhook headers must map header names to values, not {headers!r}",
            "webhook", "headers")
    else:
        for name, value in headers.items():
            if (not isinstance(value, (str, int)) or isinstance(value, bool)
                    or any(c in f"{name}{value}" for c in "\r\n")):
                bad(f"alerting webhook header {name!r} must be one line of text, not "
                    f"{value!r}", "webhook", "headers", str(name))
                continue
            pairs.append((str(name), str(value)))
    return WebhookSettings(url=url, headers=tuple(pairs))
