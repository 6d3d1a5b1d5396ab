"""Read a report's ``explode_by``: placeholder -> values, from inline lists or files.

Input: the raw ``explode_by`` mapping, the report's type and ``explode_values``
setting, and the query folder. Output: ``((placeholder, values), ...)`` sorted
by placeholder, or None after reporting every refused value with where it came
from (the inline list, or the explode file and its line).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .model import ExplodeValues, ReportType
from .names import check_explode_value, path_part_problem, plain_value_problem
from .source import SourceError, read_text

# Variables every template gets (explode placeholders come on top).
TEMPLATE_VARIABLES = ("from_timestamp", "to_timestamp", "from_date", "to_date",
                      "year", "month", "day", "hour")
JINJA_EXTRA_VARIABLES = ("start", "end", "granularity", "report", "explode")
MAX_COMBINATIONS = 1_000_000  # output files of one report
MAX_RELATIVE_PATH_BYTES = 1024  # report/v1/.../vN.tsv, leaving room for the output folder

PATH_NOTE = "values become file names and are pasted into queries"
OPT_IN_NOTE = ("values pasted into sql and hive queries may hold only ASCII letters, "
               "digits, _, - and . unless the report sets explode_values: any (in the "
               "report or in defaults); then quote them in a Jinja template with "
               "| sql_quote")
_ASCII_SPACE = " \t\r\n\f\v"

Bad = Callable[[str, str], None]  # (message, key)


@dataclass(frozen=True)
class ValueRule:
    """How a report's explode values are checked."""

    check: Callable[[str], str | None]
    note: str

    @classmethod
    def for_report(cls, report_type: Any, explode_values: ExplodeValues | None
                   ) -> "ValueRule":
        if explode_values is ExplodeValues.ANY:
            return cls(path_part_problem, "values become file names")
        if explode_values is None and report_type == ReportType.SCRIPT:
            return cls(check_explode_value, PATH_NOTE)  # the rule scripts always had
        return cls(plain_value_problem, OPT_IN_NOTE)

    def problem(self, value: str) -> str | None:
        reason = self.check(value)
        if reason is None:
            return None
        # Path safety comes first; only the character set is lifted by opting in.
        if self.note == OPT_IN_NOTE and path_part_problem(value):
            return f"{reason} ({PATH_NOTE})"
        return f"{reason} ({self.note})"


def read_explode_by(raw: Any, rule: ValueRule, query_folder: Path, bad: Bad
                    ) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        bad(f"explode_by must map placeholders to values or a file name, not {raw!r}",
            "explode_by")
        return None
    result = []
    for placeholder, spec in sorted(raw.items(), key=lambda item: str(item[0])):
        placeholder = str(placeholder)
        values = _placeholder_values(placeholder, spec, rule, query_folder, bad)
        if values is not None:
            result.append((placeholder, values))
    if len(result) != len(raw):
        return None
    return tuple(result) if _sizes_fit(result, bad) else None


def _placeholder_values(placeholder: str, spec: Any, rule: ValueRule, query_folder: Path,
                        bad: Bad) -> tuple[str, ...] | None:
    key = f"explode_by.{placeholder}"
    if not placeholder.isidentifier():
        bad(f"explode placeholder {placeholder!r} must be a name (letters, digits, _)", key)
        return None
    if placeholder in TEMPLATE_VARIABLES or placeholder in JINJA_EXTRA_VARIABLES:
        bad(f"explode placeholder {placeholder!r} clashes with a built-in template variable",
            key)
        return None
    try:
        source, found = _values_of(placeholder, spec, query_folder)
    except SourceError as e:
        bad(e.message, key)
        return None
    ok = True
    for value, line in found:
        reason = rule.problem(value)
        if reason:
            where = f"{source} line {line}" if line else source
            bad(f"explode value {value!r} from {where} is refused: {reason}", key)
            ok = False
    values = [value for value, _ in found]
    repeated = sorted(v for v, n in Counter(values).items() if n > 1)
    if repeated:
        bad(f"explode values repeat in {source}: {', '.join(repeated)}", key)
        ok = False
    return tuple(values) if ok else None


def _values_of(placeholder: str, spec: Any, query_folder: Path
               ) -> tuple[str, list[tuple[str, int | None]]]:
    """Where the values come from, and each value with its file line (None inline)."""
    if isinstance(spec, list):
        if not spec:
            raise SourceError(f"the inline list of {placeholder!r} has no values")
        return "the inline list", [(str(v).strip(_ASCII_SPACE), None) for v in spec]
    if not isinstance(spec, (str, int, float)) or isinstance(spec, bool):
        raise SourceError("explode_by value must be a comma-separated list or a file "
                          f"name, not {spec!r}")
    values = [(v.strip(_ASCII_SPACE), None) for v in str(spec).split(",")]
    path = query_folder / values[0][0]
    if len(values) > 1 or not values[0][0] or not os.path.isfile(path):
        return "the inline list", values
    source = f"file {str(path)!r}"
    try:
        text = read_text(path)
    except SourceError as e:
        raise SourceError(f"explode file {str(path)!r} cannot be read: {e.message}") from e
    found = [(line.strip(_ASCII_SPACE), number)
             for number, line in enumerate(text.split("\n"), 1)]
    found = [(value, number) for value, number in found if value]
    if not found:
        raise SourceError(f"explode file {str(path)!r} has no values")
    return source, found


def _sizes_fit(explode_by: list[tuple[str, tuple[str, ...]]], bad: Bad) -> bool:
    """Few enough output files, and paths short enough for any file system."""
    count = 1
    for _, values in explode_by:
        count *= len(values)
    if count > MAX_COMBINATIONS:
        bad(f"explode_by makes {count} combinations, more than the {MAX_COMBINATIONS} "
            "output files a report may have", "explode_by")
        return False
    longest = sum(max(len(v.encode("utf-8")) for v in values) + 1
                  for _, values in explode_by)
    if longest + 4 > MAX_RELATIVE_PATH_BYTES:
        bad(f"explode values make output paths up to {longest + 4} bytes long below the "
            f"report's folder, more than {MAX_RELATIVE_PATH_BYTES}", "explode_by")
        return False
    return True
