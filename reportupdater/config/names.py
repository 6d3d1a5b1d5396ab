"""Which texts may become file names or be pasted into queries.

Report names and explode values become parts of output paths; explode
values are also pasted into templates. Each check returns why a text is
refused, or None: path safety for every name, today's stricter rule for
script reports (no quotes or backticks), and the ``plain`` rule for values
pasted into SQL and HiveQL (ASCII letters, digits, ``_``, ``-`` and ``.``).
"""

from __future__ import annotations

import string

MAX_PART_BYTES = 200  # one path component, so that ".tsv" and temp suffixes fit in 255
PLAIN_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-.")
_QUOTES = ("'", '"', "`")


def path_part_problem(text: str) -> str | None:
    """Why ``text`` cannot be one component of an output path, or None."""
    if text == "":
        return "it is empty"
    if ".." in text:
        return "it contains '..'"
    if text == ".":
        return "it is '.'"
    for char in ("/", "\\"):
        if char in text:
            return f"it contains {char!r}"
    for char in text:
        if ord(char) < 32 or 127 <= ord(char) <= 159:
            return f"it contains the control character {char!r}"
        if 0xD800 <= ord(char) <= 0xDFFF:
            return f"it contains the unpaired surrogate {char!r}"
    size = len(text.encode("utf-8"))
    if size > MAX_PART_BYTES:
        return f"it is {size} bytes long, more than the {MAX_PART_BYTES} a file name may take"
    return None


def check_explode_value(value: str) -> str | None:
    """Why ``value`` cannot be a report name or a script's explode value, or None."""
    reason = path_part_problem(value)
    if reason:
        return reason
    for char in _QUOTES:
        if char in value:
            return f"it contains {char!r}"
    return None


def plain_value_problem(value: str) -> str | None:
    """Why ``value`` is not plain enough to paste into a query unquoted, or None."""
    reason = path_part_problem(value)
    if reason:
        return reason
    for char in value:
        if char not in PLAIN_CHARACTERS:
            return f"it contains {char!r}"
    if "--" in value:
        return "it contains '--', which starts a comment in HiveQL"
    return None
