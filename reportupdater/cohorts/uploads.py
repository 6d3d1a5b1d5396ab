"""Uploaded cohorts: validate a CSV of users against ``user`` and keep it in a folder.

Input: a cohort name, a database key of the config, the CSV text (one user a
line, by ID or name, optionally with a wiki column, as a cohort file) and the
cohorts folder. Output: the file ``<folder>/<name>.csv``, holding the resolved
user IDs (``user_id,wiki``) under a ``# db: KEY`` line, and its
``CohortConfig``. Every user must exist in its wiki's ``user`` table: names
are looked up as query parameters, IDs checked the same way, and an upload
with unknown users is refused, naming them. A stored cohort is never replaced.
``uploaded_cohorts`` reads the folder back.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..atomic import atomic_path
from ..errors import CohortError, CohortUploadError
from .measure import Session, default_wiki, resolve
from .members import Member, parse_members
from .spec import CohortConfig

if TYPE_CHECKING:
    from ..config import Config, DatabaseConfig

COHORT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
DB_LINE = re.compile(r"^# db: ([A-Za-z0-9_.-]+)$")
MAX_UNKNOWN_SHOWN = 20
_store_lock = threading.Lock()


def cohort_file(folder: Path, name: str) -> Path:
    """Where the upload ``name`` lives; ``name`` is checked, never a path."""
    if not COHORT_NAME.match(name):
        raise CohortUploadError("name", f"cohort name {name!r} must start with a letter and "
                                        "hold only letters, digits, _ and - (at most 64)")
    return folder / f"{name}.csv"


def uploaded_cohorts(folder: Path | None) -> dict[str, CohortConfig]:
    """The cohorts stored in ``folder`` by name (none if it does not exist)."""
    found: dict[str, CohortConfig] = {}
    if folder is None or not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.csv")):
        if not COHORT_NAME.match(path.stem):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                match = DB_LINE.match(f.readline().rstrip("\n"))
        except (OSError, UnicodeDecodeError):
            continue
        if match:
            found[path.stem] = CohortConfig(path.stem, match.group(1), users=path)
    return found


def _existing_ids(session: Session, wiki: str, user_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for i in range(0, len(user_ids), 5000):
        chunk = user_ids[i:i + 5000]
        placeholders = ", ".join(["%s"] * len(chunk))
        _, rows = session.run(wiki, f"SELECT user_id FROM user WHERE user_id IN "
                                    f"({placeholders})", chunk, purpose="user IDs")
        found.update(int(row[0]) for row in rows)
    return found


def validate_members(database: DatabaseConfig, members: list[Member], wiki: str | None,
                     connect: Callable[[DatabaseConfig, str], Any] | None = None
                     ) -> list[tuple[str, int]]:
    """(wiki, user ID) of every member, in their order, once each; CohortUploadError
    naming the users no ``user`` row has."""
    session = Session(database, connect)
    try:
        wiki = wiki or default_wiki(database, {})
        resolved = resolve(members, wiki, session)
        unknown = [f"{name} ({member_wiki})" for member_wiki, name in resolved.unknown_names]
        named = set(resolved.names)
        for member_wiki, user_ids in resolved.ids.items():
            given = [i for i in user_ids if (member_wiki, i) not in named]
            existing = _existing_ids(session, member_wiki, given)
            unknown += [f"{i} ({member_wiki})" for i in given if i not in existing]
    finally:
        session.close()
    if unknown:
        shown = ", ".join(unknown[:MAX_UNKNOWN_SHOWN])
        more = f" and {len(unknown) - MAX_UNKNOWN_SHOWN} more" \
            if len(unknown) > MAX_UNKNOWN_SHOWN else ""
        raise CohortUploadError("users", f"{len(unknown)} user(s) not in the user table: "
                                         f"{shown}{more}")
    ids_of = {(w, n): i for (w, i), n in resolved.names.items()}
    ordered: dict[tuple[str, int], None] = {}
    for member in members:
        member_wiki = member.wiki or wiki
        user_id = member.user_id if member.user_id is not None \
            else ids_of[(member_wiki, member.user_name)]
        ordered[(member_wiki, user_id)] = None
    return list(ordered)


def store_upload(config: Config, folder: Path, name: str, db: str, text: str,
                 wiki: str | None = None,
                 connect: Callable[[DatabaseConfig, str], Any] | None = None
                 ) -> CohortConfig:
    """Validate the CSV ``text`` and store it as cohort ``name`` of database ``db``."""
    path = cohort_file(folder, name)
    if name in config.cohorts:
        raise CohortUploadError("name", f"cohort {name!r} is defined in the config; choose "
                                        "another name")
    if db not in config.databases:
        raise CohortUploadError("db", f"unknown database {db!r}; the config has: "
                                      f"{', '.join(config.databases) or 'none'}")
    try:
        members = parse_members(text, f"uploaded cohort {name!r}")
    except CohortError as e:
        raise CohortUploadError("body", str(e)) from e
    if not members:
        raise CohortUploadError("body", f"uploaded cohort {name!r} holds no users")
    if path.exists():
        raise CohortUploadError("name", f"cohort {name!r} was already uploaded; uploads are "
                                        "never replaced, choose another name")
    users = validate_members(config.databases[db], members, wiki, connect)
    lines = [f"# db: {db}", "user_id,wiki"]
    lines += [f"{user_id},{member_wiki}" for member_wiki, user_id in users]
    with _store_lock:
        if path.exists():
            raise CohortUploadError("name", f"cohort {name!r} was already uploaded; uploads "
                                            "are never replaced, choose another name")
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temp:
            temp.write_text("\n".join(lines) + "\n", encoding="utf-8")
            os.chmod(temp, 0o644)
    return CohortConfig(name, db, users=path)


def with_cohorts(config: Config, extra: Mapping[str, CohortConfig]) -> Config:
    """``config`` with ``extra`` cohorts beside its own (its own win)."""
    import dataclasses

    return dataclasses.replace(config, cohorts={**extra, **config.cohorts})
