"""``reportupdater test``: run the test cases kept in a query folder
(``tests/<case>/``). The work is ``reportupdater.localrun.cases``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CaseError, UsageError
from .common import EXIT_FAILED, EXIT_OK, Formatter, add_common, read_config

NAME = "test"

DOC = """\
Run every test case under QUERY_FOLDER/tests/ (or the cases named) on its
fixtures and compare the output with its expected.tsv. A case is
tests/<case>/case.yaml with 'report', 'date' (or 'from' and 'until'),
'explode' (a map) and optionally 'ordered: true'; beside it fixtures/ (else
tests/fixtures/) and expected.tsv. Headers and text compare exactly, numbers
with a relative tolerance of 1e-9, and the rows of one date as a multiset
unless the case is ordered. A failure prints a row-by-row diff.

Exit status: 0 every case passed (or --update wrote them); 1 a case failed
or errored; 2 bad invocation, or no cases.

Example:
  reportupdater test queries
  reportupdater test queries --junit report.xml
  reportupdater test queries edits_enwiki --update
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(NAME, formatter_class=Formatter,
                            help="run the query folder's test cases", description=DOC)
    parser.add_argument("query_folder", nargs="?", type=Path, default=Path("queries"),
                        metavar="QUERY_FOLDER", help="folder of templates, config.yaml and "
                        "tests/ (default: ./queries)")
    parser.add_argument("case", nargs="*", metavar="CASE", help="run only these cases")
    parser.add_argument("--junit", type=Path, metavar="PATH",
                        help="also write the results as JUnit XML to PATH")
    parser.add_argument("--update", action="store_true",
                        help="write each case's expected.tsv from its output (refused "
                             "when a case errors)")
    add_common(parser)
    parser.set_defaults(command_main=main)



def main(args: argparse.Namespace) -> int:
    # Not on every command's path: the cases need DuckDB, sqlglot and XML.
    from ..localrun.cases import describe, find_cases, junit_xml, run_case, update_expected

    config = read_config(args)
    try:
        folders = find_cases(args.query_folder, args.case)
    except CaseError as e:
        raise UsageError(str(e)) from e
    if not folders:
        raise UsageError(f"no test cases under {args.query_folder / 'tests'}: each case is "
                         "tests/<case>/case.yaml")
    results = []
    for folder in folders:
        result = run_case(config, folder)
        results.append(result)
        print(describe(result), flush=True)
    if args.junit:
        args.junit.write_bytes(junit_xml(results, args.query_folder.resolve().name))
    passed = sum(r.status == "passed" for r in results)
    failed = sum(r.status == "failed" for r in results)
    errors = sum(r.status == "error" for r in results)
    print(f"{passed} passed, {failed} failed, {errors} error(s)")
    if args.update:
        if errors:
            print(f"not updated: {errors} case(s) errored; fix them first, so that no "
                  "expected.tsv is written from a broken run", file=sys.stderr)
            return EXIT_FAILED
        for path in update_expected(args.query_folder, results):
            print(f"wrote {path}")
        return EXIT_OK
    return EXIT_FAILED if failed or errors else EXIT_OK
