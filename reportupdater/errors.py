"""Named exceptions raised by the library.

The library raises these; only the CLI turns them into messages and exit
statuses (see ``reportupdater.cli``). Each carries enough context to say what
went wrong, where, and with which value.
"""

from __future__ import annotations


class ReportUpdaterError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(ReportUpdaterError):
    """The config cannot be used at all (unreadable, not YAML, no reports)."""


class TemplateError(ReportUpdaterError):
    """A query template cannot be rendered for an interval."""


class ExecutionError(ReportUpdaterError):
    """A query or script failed, timed out, or returned unusable output."""


class ResultError(ExecutionError):
    """An execution succeeded but its rows cannot be written to a timeline."""


class TimelineError(ReportUpdaterError):
    """An existing TSV timeline cannot be read or written."""


class GranularityError(TimelineError):
    """A timeline was written for another granularity than its report's now."""

    def __init__(self, message: str, *, path: object = None, found: object = None,
                 wanted: object = None):
        super().__init__(message)
        self.path, self.found, self.wanted = path, found, wanted


class RerunError(ReportUpdaterError):
    """A rerun request is invalid (bad dates, unknown reports)."""


class LockHeldError(ReportUpdaterError):
    """Another run holds the lock of this query folder."""


class UsageError(ReportUpdaterError):
    """A call or command line asks for something impossible or contradictory."""


class MissingExplodeValues(UsageError):
    """A report explodes by placeholders that were given no value."""

    def __init__(self, report: str, missing: dict[str, tuple[str, ...]]):
        self.report = report
        self.missing = missing  # placeholder -> its possible values
        super().__init__(f"report {report!r} explodes by {', '.join(missing)}; give a "
                         "value for each")


class NotFoundError(ReportUpdaterError):
    """A request names a report, explode value or file that is not there."""


class BadRequestError(ReportUpdaterError):
    """A request's parameters are malformed (a bad date, an unknown column)."""


class RunStuckError(ReportUpdaterError):
    """Another run has held the lock of this query folder for longer than max_run_seconds."""


class LocalRunError(ExecutionError):
    """A query cannot be transpiled or run on the local DuckDB (``--fixtures``)."""


class FixtureError(LocalRunError):
    """A fixture table is missing, unreadable, or its schema file is wrong."""


class CaseError(ReportUpdaterError):
    """A test case of a query folder (``tests/<case>/case.yaml``) cannot be used."""


class CohortError(ReportUpdaterError):
    """A cohort cannot be read, resolved or measured (bad file, failed query)."""


class MetricParameterError(CohortError):
    """A metric parameter has a bad value; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


class CohortUploadError(CohortError):
    """An uploaded cohort is refused (bad name or CSV, unknown users); ``parameter`` names
    what is wrong."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


class DeliveryError(ReportUpdaterError):
    """An alert message could not be delivered (server down, refused, timed out)."""
