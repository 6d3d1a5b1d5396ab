"""Collect the problems of one config file, each with its YAML line."""

from __future__ import annotations

from pathlib import Path

from .model import Problem
from .source import KeyLines


class Collector:
    """Collects problems for one config file, with YAML line numbers."""

    def __init__(self, file: Path, lines: KeyLines):
        self.file = str(file)
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, message: str, *, path: tuple[str, ...], report: str | None = None,
            severity: str = "error", key: str | None = None) -> None:
        """``path`` is the key path in the YAML; the deepest one with a line is used."""
        line = None
        for depth in range(len(path), 0, -1):
            line = self.lines.get(path[:depth])
            if line:
                break
        key = key or ".".join(path[2:] if report else path) or None
        self.problems.append(Problem(self.file, message, report, key, line, severity))

    def sink(self, base: tuple[str, ...], report: str | None = None):
        """A ``(message, key, severity)`` callable for the keys under ``base``."""

        def add(message: str, key: str, severity: str = "error") -> None:
            self.add(message, path=base + (key,), report=report, severity=severity)

        return add

    def errors_since(self, count: int) -> bool:
        """Whether an error was added after the first ``count`` problems."""
        return any(p.severity == "error" for p in self.problems[count:])
