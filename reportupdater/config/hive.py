"""Build a ``type: hive`` report's ``HiveSettings``: top-level ``hive:`` merged with its own.

Each problem points at the line the value came from: the report's own
``hive:``, the ``hive:`` of ``defaults``, or the top-level one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from .model import HiveAuth, HiveBackend, HiveSettings
from .problems import Collector
from .sections import HIVE
from .spec import ProblemSink


def hive_sink(report: str, settings: dict, defaults: dict, c: Collector) -> ProblemSink:
    """A ``problem(message, key, severity)`` that points at the line the value came from."""
    own = settings.get("hive") if isinstance(settings.get("hive"), dict) else {}
    from_defaults = "hive" not in settings and isinstance(defaults.get("hive"), dict)

    def problem(message: str, k: str, severity: str = "error") -> None:
        if k in own:
            path: tuple[str, ...] = ("reports", report, "hive", k)
        elif from_defaults and k in defaults["hive"]:
            path = ("defaults", "hive", k)
        else:
            path = ("hive", k)
        c.add(message, path=path, report=report, severity=severity, key=f"hive.{k}")

    return problem


def read_hive_settings(raw: Mapping[str, Any], problem: ProblemSink, query_folder: Path
                       ) -> HiveSettings | None:
    errors = 0

    def bad(message: str, k: str, severity: str = "error") -> None:
        nonlocal errors
        errors += severity == "error"
        problem(message, k, severity)

    if "password" in raw:
        bad("an inline hive password is not allowed: put it in a file only this user "
            "can read and set password_file to its path", "password")
    HIVE.warn_unknown({k: v for k, v in raw.items() if k != "password"}, bad)
    values, _ = HIVE.read(raw, bad)
    if values["host"] is None and "host" not in raw \
            and values["backend"] is HiveBackend.HIVESERVER2:
        bad("hive host is required for backend hiveserver2", "host")
    auth = values["auth"]
    values["kerberos_service_name"] = (values["kerberos_service_name"] or "hive"
                                       if auth is HiveAuth.KERBEROS else None)
    values["password_file"] = _password_file(raw, values, query_folder, bad)
    if errors:
        return None
    return HiveSettings(**values)


def _password_file(raw: Mapping[str, Any], values: dict[str, Any], query_folder: Path,
                   bad) -> Path | None:
    """The LDAP password file, relative to the query folder; None for other auths."""
    auth, password_file = values["auth"], values["password_file"]
    if auth is HiveAuth.LDAP and "password_file" not in raw:
        bad("hive auth LDAP needs password_file (a file holding the password)",
            "password_file")
    if password_file is None:
        return None
    if auth is None:  # already refused
        return None
    if auth is not HiveAuth.LDAP:
        bad(f"hive password_file is only used with auth LDAP, not {str(auth)!r} (ignored)",
            "password_file", "warning")
        return None
    path = Path(os.path.expanduser(password_file))  # Path.expanduser raises on ~nobody
    return path if path.is_absolute() else query_folder / path
