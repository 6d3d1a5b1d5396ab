"""Field specs: the type, range, default and allowed values of every config key.

A ``Section`` maps key names to ``Field``s; ``Section.read`` checks a YAML
mapping against it and returns the values with defaults filled in, reporting
each bad value once, in one wording: ``<label> must be <expectation>, not
<value>``, ``<label> <value> is not one of <choices>`` or ``<label> is
required <hint>``. The same specs drive docs/config.md's tables (a test keeps
them in step).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..intervals import as_datetime
from .source import UnbuiltScalar

REQUIRED = object()  # a Field default: the key must be given
TEN_YEARS = 10 * 365 * 86400  # the largest lag or timeout, in seconds
FIRST_DATE = dt.datetime(1900, 1, 1)
LAST_DATE = dt.datetime(2200, 12, 31)

ProblemSink = Callable[[str, str, str], None]  # (message, key, severity)


class Invalid(ValueError):
    """A value a kind refuses; the message follows the key's label."""


def _control_character(text: str) -> str | None:
    """A control character (C0, DEL, C1) or unpaired surrogate in ``text``, if any."""
    for char in text:
        if ord(char) < 32 or 127 <= ord(char) <= 159 or 0xD800 <= ord(char) <= 0xDFFF:
            return char
    return None


# The spec's parts are declared once, at import, and never compared: without
# generated __eq__ and __hash__ (identity is enough) the config loads faster.
declaration = dataclass(frozen=True, eq=False)


class Kind:
    """What values a key takes, and how it says so."""

    expect = "a value"

    def parse(self, value: Any) -> Any:
        return value

    def refuse(self, value: Any, expect: str | None = None) -> Invalid:
        return Invalid(f"must be {expect or self.expect}, not {value!r}")


@declaration
class Int(Kind):
    """A whole number (not a bool) in ``[minimum, maximum]``."""

    minimum: int = 0
    maximum: int | None = None
    unit: str = ""  # "seconds": "a whole number of seconds"
    show_minimum: bool = True
    expect_text: str | None = None  # replaces the generated wording entirely

    @property
    def expect(self) -> str:
        if self.expect_text:
            return self.expect_text
        words = "a whole number" + (f" of {self.unit}" if self.unit else "")
        return words + (f" >= {self.minimum}" if self.show_minimum else "")

    def parse(self, value: Any) -> int:
        if type(value) is not int or value < self.minimum:
            raise self.refuse(value)
        if self.maximum is not None and value > self.maximum:
            words = "a whole number" + (f" of {self.unit}" if self.unit else "")
            raise self.refuse(value, self.expect_text or f"{words} <= {self.maximum}")
        return value


@declaration
class Seconds(Kind):
    """A finite number of seconds > 0 and <= ``maximum``."""

    maximum: float = TEN_YEARS
    expect = "a number of seconds > 0"

    def parse(self, value: Any) -> float:
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or value <= 0):
            raise self.refuse(value)
        if value > self.maximum:
            raise self.refuse(value, f"a number of seconds <= {self.maximum}")
        return float(value)


@declaration
class Text(Kind):
    """A string without control characters; empty only if ``empty`` is true."""

    expect: str = "a string"
    empty: bool = True

    def parse(self, value: Any) -> str:
        if not isinstance(value, str) or (not value and not self.empty):
            raise self.refuse(value)
        if _control_character(value):
            raise self.refuse(value, f"{self.expect} without control characters")
        return value


@declaration
class Flag(Kind):
    """true or false (YAML booleans only)."""

    expect = "true or false"

    def parse(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.refuse(value)
        return value


@declaration
class Choice(Kind):
    """One value of an Enum, compared as text (after ``normalise``)."""

    choices: type[enum.Enum]
    normalise: Callable[[str], str] | None = None

    def parse(self, value: Any) -> enum.Enum:
        text = self.normalise(value) if self.normalise and isinstance(value, str) else value
        for member in self.choices:
            if isinstance(text, str) and text == member.value:
                return member
        names = ", ".join(str(member.value) for member in self.choices)
        raise Invalid(f"{value!r} is not one of {names}")


@declaration
class Date(Kind):
    """A date (or date and time) from FIRST_DATE to LAST_DATE."""

    def parse(self, value: Any) -> dt.datetime:
        try:
            moment = as_datetime(value)
        except ValueError:
            reason = f": {value.reason}" if isinstance(value, UnbuiltScalar) else ""
            raise Invalid(f"{value!r} is not a date (YYYY-MM-DD){reason}") from None
        if not FIRST_DATE <= moment <= LAST_DATE:
            raise Invalid(f"{moment.date().isoformat()} is outside the dates this tool "
                          f"handles, {FIRST_DATE:%Y-%m-%d} to {LAST_DATE:%Y-%m-%d}")
        return moment


@declaration
class Field:
    """One key: its kind, its default (or REQUIRED) and a line for the docs."""

    kind: Kind = field(default_factory=Kind)
    default: Any = None
    doc: str = ""
    # Without a hint, a missing required key is refused as the value None.
    required_hint: str | None = None
    null_is_default: bool = False  # `key:` with no value means the default


@declaration
class Section:
    """The keys of one YAML mapping and how its messages are worded."""

    fields: Mapping[str, Field]
    label: str = "{key}"  # how a message names a key, e.g. "graphite {key}"
    unknown: str = "unknown key {key!r} (ignored)"  # a warning; may use {known}

    def label_of(self, key: str, **names: str) -> str:
        return self.label.format(key=key, **names)

    def warn_unknown(self, raw: Mapping, problem: ProblemSink, **names: str) -> None:
        """A warning for each key the section does not know: probably a typo."""
        known = ", ".join(sorted(self.fields))
        for key in raw:
            if key not in self.fields:
                problem(self.unknown.format(key=key, known=known, **names), str(key),
                        "warning")

    def read(self, raw: Mapping, problem: ProblemSink, **names: str
             ) -> tuple[dict[str, Any], bool]:
        """Every field's value (default filled in) and whether all were valid."""
        values: dict[str, Any] = {}
        ok = True
        for key, spec in self.fields.items():
            try:
                values[key] = self._value(key, spec, raw)
            except Invalid as e:
                problem(f"{self.label_of(key, **names)} {e}", key, "error")
                values[key] = None
                ok = False
        return values, ok

    def _value(self, key: str, spec: Field, raw: Mapping) -> Any:
        if key in raw and not (raw[key] is None and spec.null_is_default):
            return spec.kind.parse(raw[key])
        if spec.default is not REQUIRED:
            return spec.default
        if spec.required_hint:
            raise Invalid(f"is required {spec.required_hint}")
        return spec.kind.parse(None)
