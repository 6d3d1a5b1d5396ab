"""Email addresses and URLs as the config accepts them (report owners, alert delivery).

Shared by the config's report keys (``owner``, ``ticket``) and the alerting
settings, so reading a report's metadata does not load the alert rules.
"""

from __future__ import annotations

import re
from typing import Any

EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")
URL = re.compile(r"https?://[^\s]+")


def parse_addresses(raw: Any) -> tuple[str, ...]:
    """An email address or a list of them. Raises ValueError, worded to follow
    the key's name: ``owner must be ...``, ``owner 'x' is not ...``."""
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise ValueError(f"must be an email address or a list of them, not {raw!r}")
    for item in items:
        if not isinstance(item, str) or not EMAIL.fullmatch(item.strip()):
            raise ValueError(f"{item!r} is not an email address (name@example.org)")
    return tuple(item.strip() for item in items)


def is_url(text: str) -> bool:
    return bool(URL.fullmatch(text))
