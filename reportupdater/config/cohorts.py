"""Read the ``cohorts:`` section and the keys of ``type: cohort`` reports.

Input: the raw ``cohorts:`` mapping (NAME: {db, users} or {db, query}), the
databases already read, and a report's merged values. Output: frozen
``CohortConfig``s and a report's ``CohortReport``; every problem names the
cohort or report, the key and the bad value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .model import DatabaseConfig, DatabaseEngine, ReportType
from .names import check_explode_value
from .problems import Collector
from .spec import ProblemSink
from .template_file import read_template

if TYPE_CHECKING:
    from ..cohorts.spec import CohortConfig, CohortReport

COHORT_KEYS = ("db", "users", "query")


def read_cohorts(raw: dict, databases: Mapping[str, DatabaseConfig], query_folder: Path,
                 c: Collector) -> dict[str, CohortConfig]:
    result: dict[str, CohortConfig] = {}
    if not raw:
        return result  # the cohorts package is loaded only for a config that has some
    from ..cohorts.spec import CohortConfig

    for name, entry in raw.items():
        name = str(name)
        where = ("cohorts", name)
        reason = check_explode_value(name)
        if reason:
            c.add(f"cohort name {name!r} is refused: {reason}", path=where)
            continue
        if not isinstance(entry, dict):
            c.add(f"cohort {name!r} must be a mapping with db and users or query, not "
                  f"{entry!r}", path=where)
            continue
        unknown = sorted(str(k) for k in entry if k not in COHORT_KEYS)
        if unknown:
            c.add(f"cohort {name!r}: unknown key {unknown[0]!r} (known: db, users, query)",
                  path=where + (unknown[0],))
            continue
        db = entry.get("db")
        if not isinstance(db, str) or db not in databases:
            known = ", ".join(sorted(databases)) or "none defined"
            c.add(f"cohort {name!r}: db {db!r} is not a key of databases (known: {known})",
                  path=where + ("db",))
            continue
        if databases[db].engine is not DatabaseEngine.MYSQL:
            c.add(f"cohort {name!r}: db {db!r} uses engine {str(databases[db].engine)!r}; "
                  "cohort metrics run on MariaDB/MySQL (engine mysql)", path=where + ("db",))
            continue
        if ("users" in entry) == ("query" in entry):
            c.add(f"cohort {name!r} needs exactly one of users (a file) or query (a "
                  "template)", path=where)
            continue
        key = "users" if "users" in entry else "query"
        source = entry[key]
        if (not isinstance(source, str) or not source or os.path.isabs(source)
                or ".." in Path(source).parts):
            c.add(f"cohort {name!r}: {key} must be a file name inside the query folder, not "
                  f"{source!r}", path=where + (key,))
            continue
        if key == "users":
            users = query_folder / source
            if not users.is_file():
                c.add(f"cohort {name!r}: users file {str(users)!r} does not exist",
                      path=where + (key,))
                continue
            result[name] = CohortConfig(name, db, users=users)
            continue
        problems: list[str] = []
        template = read_template(ReportType.SQL, source, query_folder,
                                 lambda message, _key, _severity="error":
                                 problems.append(message))
        if template is None:
            c.add(f"cohort {name!r}: {problems[0]}", path=where + (key,))
            continue
        result[name] = CohortConfig(name, db, query=template)
    return result


def read_cohort_report(key: str, values: Mapping[str, Any],
                       cohorts: Mapping[str, CohortConfig], bad: ProblemSink
                       ) -> CohortReport | None:
    """A ``type: cohort`` report's metric, cohort, params and aggregate columns."""
    from ..cohorts.aggregate import aggregate_columns
    from ..cohorts.metrics import METRICS, metric_params, registration_lag_seconds
    from ..cohorts.spec import CohortReport
    from ..errors import MetricParameterError

    metric = values["metric"]
    if metric not in METRICS:
        bad(f"metric {metric!r} is not one of {', '.join(METRICS)}", "metric")
        return None
    cohort = values["cohort"]
    if cohort not in cohorts:
        bad(f"cohort {cohort!r} is not a key of cohorts (known: "
            f"{', '.join(sorted(cohorts)) or 'none defined'})", "cohort")
        return None
    raw_params = values["params"] or {}
    if not isinstance(raw_params, dict):
        bad(f"params must map parameter names to values, not {raw_params!r}", "params")
        return None
    try:
        params = metric_params(metric, {str(k): v for k, v in raw_params.items()},
                               input_window=True)
    except MetricParameterError as e:
        bad(str(e), f"params.{e.parameter}")
        return None
    columns = aggregate_columns(metric)
    chosen = values["aggregate"] if values["aggregate"] is not None else list(columns)
    if isinstance(chosen, str):
        chosen = [part.strip() for part in chosen.split(",")]
    if not isinstance(chosen, list) or not chosen or not all(
            isinstance(x, str) and x in columns for x in chosen):
        bad(f"aggregate must list columns of {', '.join(columns)} (for metric {metric!r}), "
            f"not {values['aggregate']!r}", "aggregate")
        return None
    needed = registration_lag_seconds(metric, params)
    lag = values["lag"]
    if type(lag) is int and lag < needed:
        bad(f"lag {lag} is shorter than t ({needed} s): metric {metric!r} measures each "
            f"user until registration + t, so the last registrations of an interval are "
            f"not final when it runs; set lag: {needed} or more", "lag", "warning")
    return CohortReport(metric=metric, cohort=cohort, params=params, aggregate=tuple(chosen))
