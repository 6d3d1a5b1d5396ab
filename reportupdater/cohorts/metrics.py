"""What each cohort metric is: its parameters, defaults and value columns.

Input: a metric name and raw parameters (from YAML, the command line or a
query string). Output: ``MetricParams``, checked and with every default
filled in, or ``MetricParameterError`` naming the bad parameter. The SQL
that computes a metric lives in ``sql/<metric>.sql.j2``; this module only
says what may be asked of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from ..errors import MetricParameterError

TIMESTAMP = "%Y%m%d%H%M%S"
WINDOW_MODES = ("registration", "input")


@dataclass(frozen=True)
class Metric:
    """One metric: what it accepts and what a user's value looks like."""

    name: str
    kind: str  # "number", "boolean", "fields" (several columns) or "namespaces"
    parameters: tuple[str, ...]
    fields: tuple[str, ...] = ()  # value columns of a "fields" metric
    boolean_fields: tuple[str, ...] = ()  # which of them are 0/1
    t_unit: str = "hours"  # of the t parameter
    default_t: int = 24

    @property
    def windowed(self) -> bool:
        """Measured over a window, registration or input."""
        return "window" in self.parameters

    @property
    def columns(self) -> tuple[str, ...]:
        """The value columns of a per-user row."""
        return self.fields or (self.name,)


_WINDOW = ("window", "t", "start", "end")
_REVISIONS = ("namespaces", "include_deleted")

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("edit_count", "number", _WINDOW + _REVISIONS),
    Metric("pages_created", "number", _WINDOW + _REVISIONS),
    Metric("bytes_added", "fields", _WINDOW + _REVISIONS,
           fields=("net", "absolute", "positive", "negative", "count")),
    Metric("namespace_of_edits", "namespaces", _WINDOW + ("include_deleted",)),
    Metric("threshold", "boolean", ("n", "t") + _REVISIONS),
    Metric("survival", "boolean", ("t",) + _REVISIONS),
    Metric("live_account", "boolean", ("t",) + _REVISIONS, t_unit="minutes", default_t=60),
    Metric("time_to_threshold", "number", ("a", "b") + _REVISIONS),
    Metric("revert_rate", "number", _WINDOW + _REVISIONS + ("k",)),
    Metric("blocks", "fields", _WINDOW, fields=("count", "first", "ban"),
           boolean_fields=("ban",)),
)}


@dataclass(frozen=True)
class MetricParams:
    """A metric's parameters with defaults filled in (unused ones stay None)."""

    metric: str
    window: str | None = None
    t: int | None = None
    start: str | None = None  # YYYYMMDDHHMMSS, input window only
    end: str | None = None
    namespaces: tuple[int, ...] | None = None  # None: all namespaces
    include_deleted: bool | None = None
    n: int | None = None
    a: int | None = None
    b: int | None = None
    k: int | None = None

    def used(self) -> dict[str, Any]:
        """The parameters that apply, for showing: namespaces as a list or "all"."""
        shown = {}
        for key, value in asdict(self).items():
            if value is None and key != "namespaces":
                continue
            if key == "metric":
                continue
            if key == "namespaces":
                if "namespaces" not in METRICS[self.metric].parameters:
                    continue
                value = "all" if value is None else list(value)
            shown[key] = value
        return shown


def _int(parameter: str, value: Any, minimum: int) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if type(value) is not int or value < minimum:
        raise MetricParameterError(
            parameter, f"parameter {parameter!r} must be a whole number >= {minimum}, "
                       f"not {value!r}")
    return value


def _moment(parameter: str, value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime(TIMESTAMP)
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d") + "000000"
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                TIMESTAMP):
        try:
            return dt.datetime.strptime(text, fmt).strftime(TIMESTAMP)
        except ValueError:
            continue
    raise MetricParameterError(
        parameter, f"parameter {parameter!r} must be a date (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS "
                   f"or YYYYMMDDHHMMSS), not {value!r}")


def parse_namespaces(value: Any) -> tuple[int, ...] | None:
    """``all``, a comma-separated list or a list of namespace numbers."""
    if value == "all" or value == ["all"]:
        return None
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    result = []
    for item in items:
        text = str(item).strip()
        if isinstance(item, bool) or not text.lstrip("-").isdigit():
            raise MetricParameterError(
                "namespaces", f"parameter 'namespaces' must be 'all' or a comma-separated "
                              f"list of namespace numbers, not {value!r}")
        result.append(int(text))
    if not result:
        raise MetricParameterError("namespaces", "parameter 'namespaces' is empty; give "
                                                 "namespace numbers or 'all'")
    return tuple(sorted(set(result)))


def _bool(parameter: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise MetricParameterError(parameter, f"parameter {parameter!r} must be true or false, "
                                          f"not {value!r}")


def metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise MetricParameterError(
            "metric", f"unknown metric {name!r} (known: {', '.join(METRICS)})") from None


def metric_params(name: str, raw: Mapping[str, Any], *,
                  input_window: bool = False) -> MetricParams:
    """Check ``raw`` against metric ``name`` and fill in the defaults.

    ``input_window``: the window's start and end come from elsewhere (a
    report's interval), so they must not be given here.
    """
    spec = metric(name)
    raw = {k: v for k, v in raw.items() if v is not None}
    for key in raw:
        if key not in spec.parameters:
            known = ", ".join(spec.parameters)
            raise MetricParameterError(
                key, f"metric {name!r} has no parameter {key!r} (it takes: {known})")
    values: dict[str, Any] = {}
    if spec.windowed:
        window = raw.get("window")
        if window is None:
            window = "input" if ("start" in raw or "end" in raw or input_window) \
                else "registration"
        if window not in WINDOW_MODES:
            raise MetricParameterError(
                "window", f"parameter 'window' must be registration or input, not {window!r}")
        values["window"] = window
        if window == "registration":
            for key in ("start", "end"):
                if key in raw:
                    raise MetricParameterError(
                        key, f"parameter {key!r} is only for window 'input'; the "
                             "registration window is [registration, registration + t)")
        elif input_window:
            for key in ("start", "end"):
                if key in raw:
                    raise MetricParameterError(
                        key, f"parameter {key!r} is not allowed here: the input window is "
                             "the report's interval")
        else:
            for key in ("start", "end"):
                if key not in raw:
                    raise MetricParameterError(
                        key, f"parameter {key!r} is required for window 'input'")
                values[key] = _moment(key, raw[key])
            if values["start"] >= values["end"]:
                raise MetricParameterError(
                    "end", f"parameter 'end' ({raw['end']}) must come after 'start' "
                           f"({raw['start']})")
            if "t" in raw:
                raise MetricParameterError(
                    "t", "parameter 't' is only for window 'registration'")
    if "t" in spec.parameters and values.get("window") != "input":
        values["t"] = _int("t", raw.get("t", spec.default_t), 0 if spec.t_unit == "minutes"
                           else 1)
    if "namespaces" in spec.parameters:
        values["namespaces"] = parse_namespaces(raw.get("namespaces", [0]))
    if "include_deleted" in spec.parameters:
        values["include_deleted"] = _bool("include_deleted", raw.get("include_deleted",
                                                                     False))
    if "n" in spec.parameters:
        values["n"] = _int("n", raw.get("n", 1), 1)
    if "a" in spec.parameters:
        values["a"] = _int("a", raw.get("a", 1), 1)
        values["b"] = _int("b", raw.get("b", 2), 1)
        if values["b"] < values["a"]:
            raise MetricParameterError(
                "b", f"parameter 'b' ({values['b']}) must be at least 'a' ({values['a']})")
    if "k" in spec.parameters:
        values["k"] = _int("k", raw.get("k", 15), 1)
    return MetricParams(metric=name, **values)


def needs_registration(name: str, params: MetricParams) -> bool:
    """Whether a user with no registration date has no value."""
    spec = METRICS[name]
    return (spec.windowed and params.window == "registration") or spec.name in (
        "threshold", "survival", "live_account")


def registration_lag_seconds(name: str, params: MetricParams) -> int:
    """How long after a registration its value is final (0: not registration-based)."""
    if not needs_registration(name, params):
        return 0
    unit = 60 if METRICS[name].t_unit == "minutes" else 3600
    return (params.t or 0) * unit
