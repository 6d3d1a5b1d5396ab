"""The alert files of an output folder: open incidents and the outbox.

Input and output: ``<output>/.reportupdater-alerts.json`` (the incidents
open, by fingerprint) and ``<output>/.alerts-outbox/`` (one JSON file per
message and channel not delivered yet). Every file is written whole through
the atomic-write helper, so a killed run leaves each either old or new.

A run queues its messages before it records the incidents, and names each
message file by incident, event and channel: if the run dies in between, the
next run judges the same data the same way and rewrites the same files, so
nothing is lost and nothing is queued twice. A file is removed only after its
channel accepted the message: delivery is at least once.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from .. import atomic

log = logging.getLogger(__name__)

STATE_NAME = ".reportupdater-alerts.json"
STATE_VERSION = 1
OUTBOX_DIR = ".alerts-outbox"


def write_atomic(path: Path, data: bytes) -> None:
    """Write through the project's helper (temp file, fsync, rename, folder
    fsync), creating the folder first. Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_atomic(path, data)


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


class StateError(Exception):
    """The incident file exists but can't be read; it is left alone."""


def state_path(output_folder: Path) -> Path:
    return Path(output_folder) / STATE_NAME


def read_incidents(output_folder: Path) -> dict[str, dict]:
    """The open incidents by fingerprint. Raises StateError."""
    path = state_path(output_folder)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise StateError(f"the alert state file {path} cannot be read: {e}; move it away "
                         "to start afresh (open incidents would fire again)") from e
    incidents = raw.get("incidents") if isinstance(raw, dict) else None
    if raw.get("version") != STATE_VERSION or not isinstance(incidents, dict):
        raise StateError(f"the alert state file {path} is not a version {STATE_VERSION} "
                         "alert state file; move it away to start afresh")
    return {str(k): v for k, v in incidents.items() if isinstance(v, dict)}


def write_incidents(output_folder: Path, incidents: dict[str, dict]) -> None:
    """Raises OSError."""
    write_atomic(state_path(output_folder),
                 _json_bytes({"version": STATE_VERSION, "incidents": incidents}))


class AlertOutbox:
    """Messages waiting for their channel, one JSON file each, oldest first."""

    def __init__(self, output_folder: Path):
        self.path = Path(output_folder) / OUTBOX_DIR

    @staticmethod
    def name(message: dict, channel: str) -> str:
        return f"{message['incident_id']}-{message['event']}-{channel}.json"

    def add(self, message: dict, channel: str) -> Path:
        """Queue ``message`` for ``channel`` (replacing the same one). Raises OSError."""
        path = self.path / self.name(message, channel)
        entry = {"channel": channel, "queued_ns": time.time_ns(), "attempts": 0,
                 "last_error": None, "message": message}
        write_atomic(path, _json_bytes(entry))
        return path

    def entries(self) -> list[tuple[Path, dict]]:
        """Every queued message, oldest first; unreadable files are logged and kept."""
        found = []
        try:
            paths = sorted(self.path.glob("*.json"))
        except OSError:
            return []
        for path in paths:
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
                entry["message"]["event"]  # noqa: B018 - the shape is checked here
            except (OSError, ValueError, KeyError, TypeError) as e:
                log.error("alerts: the outbox file %s cannot be read (%s); it is left there",
                          path, e)
                continue
            found.append((path, entry))
        return sorted(found, key=lambda item: (item[1].get("queued_ns", 0), item[0].name))

    def count(self) -> int:
        try:
            return sum(1 for _ in self.path.glob("*.json"))
        except OSError:
            return 0

    def failed(self, path: Path, entry: dict, error: str) -> None:
        """Record a failed attempt (the message stays queued)."""
        entry = {**entry, "attempts": entry.get("attempts", 0) + 1, "last_error": error}
        try:
            write_atomic(path, _json_bytes(entry))
        except OSError as e:
            log.warning("alerts: cannot update %s: %s", path, e)

    def delivered(self, path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
