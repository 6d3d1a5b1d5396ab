"""Who is in a cohort: read a file of users, or run a cohort query, then resolve names.

Input: a cohort file (one user a line, by ID or by name, with an optional wiki
column) or a rendered cohort query. Output: ``Member`` values, then a
``Resolved`` cohort: user IDs per wiki, and the names no ``user`` row has.
Names are only ever sent as query parameters, never pasted into SQL.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import CohortError

WIKI_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_IDS_ONLY = re.compile(r"[0-9\r\n]*")  # a file of user IDs, one a line, and nothing else
_HEADERS = {"user_id", "user_name", "user", "wiki"}


@dataclass(frozen=True)
class Member:
    """One line of a cohort: a user ID or a user name, on a wiki (None: the default)."""

    user_id: int | None = None
    user_name: str | None = None
    wiki: str | None = None


@dataclass
class Resolved:
    """A cohort's user IDs per wiki, in first-seen order, and who could not be found."""

    ids: dict[str, list[int]] = field(default_factory=dict)
    names: dict[tuple[str, int], str] = field(default_factory=dict)  # resolved from names
    unknown_names: list[tuple[str, str]] = field(default_factory=list)  # (wiki, name)
    _seen: set[tuple[str, int]] = field(default_factory=set, repr=False)

    def add(self, wiki: str, user_id: int) -> None:
        if (wiki, user_id) not in self._seen:  # a set: a list test is quadratic
            self._seen.add((wiki, user_id))
            self.ids.setdefault(wiki, []).append(user_id)

    @property
    def size(self) -> int:
        return sum(len(ids) for ids in self.ids.values()) + len(self.unknown_names)


def check_wiki(wiki: str, where: str) -> str:
    if not WIKI_NAME.match(wiki):
        raise CohortError(f"{where}: wiki {wiki!r} is not a database name (letters, digits "
                          "and _ only)")
    return wiki


def normalise_name(name: str) -> str:
    """As MediaWiki stores it: underscores are spaces, no outer blanks."""
    return " ".join(name.replace("_", " ").split(" ")).strip()


def parse_members(text: str, source: str) -> list[Member]:
    """Users from a cohort file's text: ``user[<TAB or ,>wiki]`` a line.

    A first line ``user_id``, ``user_name`` or ``user`` (optionally with
    ``wiki``) is a header; ``user_id``/``user_name`` say how to read every line
    (so an all-digit name can be given). Otherwise a line of digits is an ID and
    anything else a name. Blank lines and lines starting with ``#`` are skipped.
    """
    if _IDS_ONLY.fullmatch(text):  # the usual file: what the lines below make of it, at once
        return [Member(int(user_id)) for user_id in text.split()]
    delimiter = "\t" if "\t" in text else ","
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    kind = None
    if lines:
        first = [cell.strip().lower() for cell in lines[0][1].split(delimiter)]
        if first[0] in _HEADERS and set(first) <= _HEADERS:
            kind = first[0] if first[0] != "user" else None
            lines = lines[1:]
    members = []
    for number, line in lines:
        if '"' in line:  # quoted cells: the csv module; otherwise a plain split
            cells = next(csv.reader(io.StringIO(line), delimiter=delimiter))
        else:
            cells = line.split(delimiter)
        cells = [cell.strip() for cell in cells]
        where = f"{source}:{number}"
        if len(cells) > 2 or not cells or not cells[0]:
            raise CohortError(f"{where}: expected a user ID or name, optionally followed by "
                              f"a wiki, not {line!r}")
        wiki = check_wiki(cells[1], where) if len(cells) == 2 and cells[1] else None
        user = cells[0]
        if kind == "user_id" or (kind is None and user.isdigit()):
            if not user.isdigit():
                raise CohortError(f"{where}: {user!r} is not a user ID (the header says "
                                  "user_id)")
            members.append(Member(user_id=int(user), wiki=wiki))
        else:
            members.append(Member(user_name=normalise_name(user), wiki=wiki))
    return members


def read_members(path: Path) -> list[Member]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CohortError(f"cohort file {str(path)!r} cannot be read: {e}") from e
    members = list(_parsed_file(text, str(path)))
    if not members:
        raise CohortError(f"cohort file {str(path)!r} holds no users")
    return members


@functools.lru_cache(maxsize=4)
def _parsed_file(text: str, source: str) -> tuple[Member, ...]:
    """A cohort file's members, parsed once while its text stays the same: a report
    run or the API measures several metrics over the same file. Keyed by the text
    itself, which is read every time, so an edited file is never answered from
    the cache."""
    return tuple(parse_members(text, source))


def members_from_rows(header: list[str], rows: Iterable[tuple], source: str) -> list[Member]:
    """Members from a cohort query's result: its ``user_id`` (and ``wiki``) columns."""
    if "user_id" not in header:
        raise CohortError(f"cohort query {source} must return a user_id column; it returned "
                          f"{', '.join(header) or 'no columns'}")
    at = header.index("user_id")
    wiki_at = header.index("wiki") if "wiki" in header else None
    members = []
    for row in rows:
        value = row[at]
        if value is None:
            continue
        try:
            user_id = int(value)
        except (TypeError, ValueError):
            raise CohortError(f"cohort query {source} returned user_id {value!r}, not a "
                              "number") from None
        wiki = row[wiki_at] if wiki_at is not None else None
        if isinstance(wiki, (bytes, bytearray)):
            wiki = wiki.decode()
        members.append(Member(user_id=user_id,
                              wiki=check_wiki(wiki, source) if wiki else None))
    return members
