"""The cohort settings a config holds, as frozen values.

``CohortConfig`` is one entry of the top-level ``cohorts:`` key (a file of
users or a query template returning ``user_id``); ``CohortReport`` is what a
``type: cohort`` report asks for. ``reportupdater.config`` builds both; this
module imports nothing from it, so the loader can import it freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..templates import Template
    from .metrics import MetricParams


@dataclass(frozen=True)
class CohortConfig:
    key: str
    db: str  # a key of databases
    users: Path | None = None  # a file of users, one a line
    query: "Template | None" = None  # a template whose rows hold user_id


@dataclass(frozen=True)
class CohortReport:
    metric: str
    cohort: str
    params: "MetricParams"
    aggregate: tuple[str, ...]  # the aggregate columns written, in order


def describe(cohort: CohortConfig) -> dict[str, Any]:
    """A cohort as shown by the API: its name, database and source."""
    shown: dict[str, Any] = {"name": cohort.key, "db": cohort.db}
    if cohort.users is not None:
        shown["users"] = cohort.users.name
    if cohort.query is not None:
        shown["query"] = cohort.query.path.name
    return shown
