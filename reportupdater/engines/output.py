"""Check what a program printed before any of it can become a ``Table``.

Input: the bytes a script or a Hive client wrote to stdout. Output: its
lines as text, or an ExecutionError that says what is wrong and shows the
first line (escaped and shortened). The rules, shared by scripts and the
Hive CLI backend:

* The output is UTF-8 text: a NUL byte (binary output) or bytes that are not
  UTF-8 fail the interval. Nothing is replaced or guessed.
* Lines end at ``\\n`` (a ``\\r`` before it is dropped), nowhere else: a form
  feed, a record separator, U+0085 or U+2028 inside a field is data.
* The header names the columns: none is empty or repeated, none holds a
  control character, and the first is not a date (a first line starting
  with a date is a data row: the header is missing).

Rows dated outside the interval are refused later, for every engine, by
``results.interval_rows``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from ..errors import ExecutionError

MAX_SHOWN = 120  # characters of an escaped line shown in a message

_DATE = re.compile(r"\s*\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d.*)?\s*$")
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "'": "\\'"}


def shown(line: str) -> str:
    """``line`` quoted for a message: control and undecodable characters escaped,
    cut to ``MAX_SHOWN`` characters."""
    out = []
    for char in line:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(char)
    text = "".join(out)
    if len(text) > MAX_SHOWN:
        text = text[:MAX_SHOWN] + "..."
    return f"'{text}'"


def first_line(data: bytes) -> str:
    """The first line of ``data``, as shown in a message."""
    return shown(data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "surrogateescape"))


def decode(data: bytes, what: str) -> str:
    """``data`` as text. Raises ExecutionError on binary or non-UTF-8 output."""
    nul = data.find(b"\0")
    if nul != -1:
        line = data.count(b"\n", 0, nul) + 1
        raise ExecutionError(f"{what} printed binary output (a NUL byte on line {line}); "
                             f"first line: {first_line(data)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ExecutionError(
            f"{what} printed output that is not UTF-8 (byte 0x{data[e.start]:02x} on line "
            f"{line}); first line: {first_line(data)}") from None


def split_lines(text: str) -> list[str]:
    """The lines of ``text``: split at ``\\n`` only, one ``\\r`` before it dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def check_header(names: Sequence[str], line: str, what: str,
                 where: str = "first line") -> None:
    """Raise ExecutionError unless ``names`` (read from ``line``) can name columns."""
    problem = header_problem(names)
    if problem:
        raise ExecutionError(f"{what} printed {problem}; {where}: {shown(line)}")


def looks_like_date(name: str) -> bool:
    """Whether a column name is a date (so it is no name at all)."""
    return _DATE.match(name) is not None


def header_problem(names: Sequence[str]) -> str | None:
    """What makes ``names`` unusable as a header, or None."""
    if looks_like_date(names[0]):
        return (f"no header row (its first field, {shown(names[0].strip())}, is a date: "
                "that is a data row, not column names)")
    for number, name in enumerate(names, start=1):
        if not name.strip():
            return f"a header with an empty column name (column {number})"
        if any(unicodedata.category(char) == "Cc" for char in name):
            return f"a header with a control character in column {number} ({shown(name)})"
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        return f"a header with duplicate column names: {', '.join(duplicates)}"
    return None
