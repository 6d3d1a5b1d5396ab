"""A query folder's test cases: run each on its fixtures, compare with expected.tsv.

Input: ``QUERY_FOLDER/tests/<case>/case.yaml`` (``report``; ``date``, or
``from`` and ``until``; ``explode``; ``ordered``), beside it ``fixtures/``
(else ``tests/fixtures/``) and ``expected.tsv``. Output: a ``CaseResult``
per case, with a readable row-by-row diff when it fails, and JUnit XML.
Headers and text compare exactly; numbers with a relative tolerance of
1e-9 (``3`` equals ``3.0``); the rows of one date as a multiset unless the
case says ``ordered: true``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence
from xml.etree import ElementTree as ET

import yaml

from ..config import Config
from ..errors import CaseError, ReportUpdaterError
from ..intervals import as_datetime
from .trying import intervals_in, try_report

CASE_FILE = "case.yaml"
EXPECTED_FILE = "expected.tsv"
CASE_KEYS = {"report", "date", "from", "until", "explode", "ordered", "description"}
RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path
    report: str
    date: dt.datetime | None
    start: dt.datetime | None
    until: dt.datetime | None
    explode: dict[str, str]
    ordered: bool
    fixtures: Path

    @property
    def expected_path(self) -> Path:
        return self.folder / EXPECTED_FILE


@dataclass
class CaseResult:
    case: str
    status: str  # "passed", "failed" or "error"
    message: str = ""
    seconds: float = 0.0
    actual: str | None = None  # the TSV the report gave, when it ran


def find_cases(query_folder: Path, names: Sequence[str] = ()) -> list[Path]:
    """The case folders under ``QUERY_FOLDER/tests``, sorted (all, or those named)."""
    tests = query_folder / "tests"
    found = sorted(p.parent for p in tests.glob(f"*/{CASE_FILE}"))
    if names:
        known = {p.name: p for p in found}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise CaseError(f"no test case {', '.join(map(repr, unknown))} under {tests}; "
                            f"the cases are: {', '.join(known) or 'none'}")
        found = [known[n] for n in names]
    return found


def load_case(folder: Path) -> Case:
    """Read ``case.yaml``. Raises CaseError naming the file, key and value."""
    path = folder / CASE_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise CaseError(f"cannot read {path}: {e}") from e
    if not isinstance(raw, dict):
        raise CaseError(f"{path} must be a mapping with 'report' and 'date', not {raw!r}")
    unknown = sorted(set(map(str, raw)) - CASE_KEYS)
    if unknown:
        raise CaseError(f"{path}: unknown key(s) {', '.join(unknown)} (known: "
                        f"{', '.join(sorted(CASE_KEYS))})")
    report = raw.get("report")
    if not isinstance(report, str) or not report:
        raise CaseError(f"{path}: 'report' must name a report, not {report!r}")

    def moment(key: str) -> dt.datetime | None:
        if raw.get(key) is None:
            return None
        try:
            return as_datetime(raw[key])
        except ValueError:
            raise CaseError(f"{path}: {key!r} must be a date (YYYY-MM-DD), not "
                            f"{raw[key]!r}") from None

    date, start, until = moment("date"), moment("from"), moment("until")
    if (date is None) == (start is None and until is None) or (
            date is None and (start is None or until is None)):
        raise CaseError(f"{path}: give 'date', or both 'from' and 'until'")
    explode = raw.get("explode") or {}
    if not isinstance(explode, dict):
        raise CaseError(f"{path}: 'explode' must map placeholders to values, not "
                        f"{explode!r}")
    ordered = raw.get("ordered", False)
    if not isinstance(ordered, bool):
        raise CaseError(f"{path}: 'ordered' must be true or false, not {ordered!r}")
    fixtures = folder / "fixtures"
    if not fixtures.is_dir() and (folder.parent / "fixtures").is_dir():
        fixtures = folder.parent / "fixtures"
    return Case(folder.name, folder, report, date, start, until,
                {str(k): str(v) for k, v in explode.items()}, ordered, fixtures)


def run_case(config: Config, folder: Path) -> CaseResult:
    """Run one case; never raises for the case's own problems."""
    started = time.monotonic()
    try:
        case = load_case(folder)
        report = _report(config, case)
        intervals = intervals_in(report, case.date, case.start, case.until)
        result = try_report(config, report, case.explode, intervals, case.fixtures)
    except ReportUpdaterError as e:
        return CaseResult(folder.name, "error", str(e), time.monotonic() - started)
    seconds = time.monotonic() - started
    actual = result.tsv()
    if result.failures:
        return CaseResult(case.name, "error", "\n".join(f.describe() for f in result.failures),
                          seconds, actual)
    if not case.expected_path.exists():
        return CaseResult(case.name, "failed", f"{case.expected_path} does not exist; run "
                          "'reportupdater test --update' to write it from this output:\n"
                          + actual, seconds, actual)
    expected = case.expected_path.read_text(encoding="utf-8")
    diff = compare(expected, actual, case.ordered)
    if diff:
        return CaseResult(case.name, "failed", diff, seconds, actual)
    return CaseResult(case.name, "passed", "", seconds, actual)


def _report(config: Config, case: Case):
    report = config.report(case.report)
    if report is None:
        if case.report in config.report_keys:
            errors = "; ".join(str(p) for p in config.errors if p.report == case.report)
            raise CaseError(f"case {case.name}: report {case.report!r} has config errors: "
                            f"{errors}")
        raise CaseError(f"case {case.name}: unknown report {case.report!r}; the config "
                        f"{config.path} has: {', '.join(config.report_keys) or 'none'}")
    missing = [p for p in report.placeholders if p not in case.explode]
    extra = [p for p in case.explode if p not in report.placeholders]
    if missing or extra:
        raise CaseError(f"case {case.name}: report {case.report!r} explodes by "
                        f"{', '.join(report.placeholders) or 'nothing'}, but the case's "
                        f"explode gives {', '.join(case.explode) or 'nothing'}")
    for name, values in report.explode_by:
        if case.explode[name] not in values:
            raise CaseError(f"case {case.name}: {case.explode[name]!r} is not a value of "
                            f"{name} for report {case.report!r}")
    return report


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter="\t"))


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def same_value(expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    a, b = _number(expected), _number(actual)
    return a is not None and b is not None and math.isclose(
        a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)


def same_row(expected: Sequence[str], actual: Sequence[str]) -> bool:
    return len(expected) == len(actual) and all(map(same_value, expected, actual))


def compare(expected: str, actual: str, ordered: bool = False) -> str:
    """A readable diff of two TSVs, or '' when they agree."""
    want, got = _rows(expected), _rows(actual)
    lines = []
    want_header, got_header = (want[0] if want else []), (got[0] if got else [])
    if want_header != got_header:
        lines.append("header differs:")
        lines.append("  - " + "\t".join(want_header))
        lines.append("  + " + "\t".join(got_header))
        return "\n".join(lines)
    for date in sorted({r[0] for r in want[1:]} | {r[0] for r in got[1:]}):
        want_rows = [r for r in want[1:] if r[0] == date]
        got_rows = [r for r in got[1:] if r[0] == date]
        missing, unexpected = _difference(want_rows, got_rows, ordered)
        if missing or unexpected:
            lines.append(f"{date}: {len(want_rows)} row(s) expected, {len(got_rows)} produced"
                         + (" (in order)" if ordered else ""))
            lines += ["  - " + "\t".join(r) for r in missing]
            lines += ["  + " + "\t".join(r) for r in unexpected]
    if lines:
        lines.append("(- expected, not produced; + produced, not expected)")
    return "\n".join(lines)


def _difference(want: list[list[str]], got: list[list[str]], ordered: bool
                ) -> tuple[list[list[str]], list[list[str]]]:
    if ordered:
        if len(want) == len(got) and all(map(same_row, want, got)):
            return [], []
        return want, got
    left = list(got)
    missing = []
    for row in want:
        match = next((i for i, other in enumerate(left) if same_row(row, other)), None)
        if match is None:
            missing.append(row)
        else:
            left.pop(match)
    return missing, left


def junit_xml(results: Sequence[CaseResult], suite: str) -> bytes:
    """JUnit XML, as CI systems read it."""
    root = ET.Element("testsuites")
    element = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                            failures=str(sum(r.status == "failed" for r in results)),
                            errors=str(sum(r.status == "error" for r in results)),
                            time=f"{sum(r.seconds for r in results):.3f}")
    for result in results:
        case = ET.SubElement(element, "testcase", classname=suite, name=result.case,
                             time=f"{result.seconds:.3f}")
        if result.status != "passed":
            tag = "failure" if result.status == "failed" else "error"
            child = ET.SubElement(case, tag, message=result.message.splitlines()[0]
                                  if result.message else result.status)
            child.text = result.message
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def update_expected(config_folder: Path, results: Sequence[CaseResult]) -> list[Path]:
    """Write each case's output as its expected.tsv; the paths written."""
    written = []
    for result in results:
        if result.actual is None:
            continue
        path = config_folder / "tests" / result.case / EXPECTED_FILE
        if not path.exists() or path.read_text(encoding="utf-8") != result.actual:
            path.write_text(result.actual, encoding="utf-8")
            written.append(path)
    return written


def describe(result: CaseResult) -> str:
    word = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}[result.status]
    head = f"{word} {result.case} ({result.seconds:.2f} s)"
    if not result.message:
        return head
    return head + "\n" + "\n".join("    " + line for line in result.message.splitlines())
