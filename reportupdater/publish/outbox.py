"""The Graphite outbox: points waiting for delivery, kept on disk so none is lost.

Input: plaintext point lines (``graphite_points.encode_lines``). Output: files
in ``<output>/.graphite-outbox/``: ``*.points`` files queued whole (written
aside, fsynced, renamed in), and the ``*.journal`` of a sender at work, which
holds what it sent but carbon has not confirmed. A journal whose sender died
is turned into a ``*.points`` file by the next sender, which delivers the
outbox before anything new.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Iterator

from ..atomic import fsync_folder

log = logging.getLogger(__name__)

OUTBOX_DIR = ".graphite-outbox"
READ_CHUNK = 1 << 20

class GraphiteOutbox:
    """Points waiting for Graphite, in ``<output>/.graphite-outbox/``.

    Each file holds plaintext lines and is named ``<ns>-<pid>-<points>.points``,
    so files sort in the order they were queued and count without being read.
    Files are only ever added whole (written aside, fsynced, renamed in) and
    removed once carbon confirmed them, so concurrent writers never clash.
    ``*.journal`` files are the live journals of senders; a journal whose
    owner died (its flock is free) is turned into an outbox file.
    """

    def __init__(self, output_folder: Path):
        self.path = Path(output_folder) / OUTBOX_DIR

    def files(self) -> list[Path]:
        try:
            return sorted(self.path.glob("*.points"))
        except OSError:
            return []

    @staticmethod
    def points_in(path: Path) -> int:
        try:
            return int(path.stem.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            return 0

    def count(self) -> int:
        return sum(self.points_in(path) for path in self.files())

    def new_name(self, suffix: str, count: int | None = None) -> Path:
        stem = f"{time.time_ns():020d}-{os.getpid()}"
        if count is not None:
            stem += f"-{count}"
        return self.path / (stem + suffix)

    def add(self, data: bytes, count: int) -> Path:
        """Queue ``count`` points (plaintext lines) as one new file. Raises OSError."""
        self.path.mkdir(parents=True, exist_ok=True)
        final = self.new_name(".points", count)
        temp = final.with_suffix(".tmp")
        try:
            with open(temp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, final)
        finally:
            if temp.exists():
                temp.unlink()
        fsync_folder(self.path)
        return final

    def lock(self) -> int | None:
        """Try to take the outbox for delivery; the fd to release, or None if busy."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            log.warning("graphite: cannot open the outbox %s: %s", self.path, e)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    def recover_journals(self) -> None:
        """Turn the journals of dead senders into outbox files (hold the lock)."""
        for journal in sorted(self.path.glob("*.journal")):
            try:
                fd = os.open(journal, os.O_RDWR)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue  # its sender is alive
            try:
                with os.fdopen(fd, "r+b") as f:
                    data = f.read()
                    whole = data[:data.rfind(b"\n") + 1]  # drop a torn last line
                    count = whole.count(b"\n")
                    if count:
                        f.truncate(len(whole))
                        os.fsync(f.fileno())
                        os.replace(journal, journal.with_name(f"{journal.stem}-{count}.points"))
                        log.warning("graphite: recovered %d point(s) from %s, left by a run "
                                    "that did not finish", count, journal)
                    else:
                        journal.unlink()
            except OSError as e:
                log.warning("graphite: cannot recover %s: %s", journal, e)


class Journal:
    """What a sender has sent but carbon has not confirmed: a locked file in the
    outbox, or memory if the outbox can't be written."""

    def __init__(self, outbox: GraphiteOutbox):
        self.outbox = outbox
        self.count = 0
        self.size = 0
        self._file = None
        self._path: Path | None = None
        self._memory: list[bytes] | None = None

    def append(self, data: bytes, count: int) -> None:
        if self._file is None and self._memory is None:
            self._open()
        if self._file is not None:
            try:
                self._file.write(data)
                self._file.flush()
            except OSError as e:
                log.error("graphite: cannot write the journal %s (%s); keeping unconfirmed "
                          "points in memory", self._path, e)
                self._to_memory()
        if self._memory is not None:
            self._memory.append(data)
        self.count += count
        self.size += len(data)

    def _open(self) -> None:
        temp = None
        try:
            self.outbox.path.mkdir(parents=True, exist_ok=True)
            self._path = self.outbox.new_name(".journal")
            # Locked before it gets its name, so no one takes it for a dead one.
            temp = self._path.with_suffix(".tmp")
            self._file = open(temp, "xb")
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
            os.rename(temp, self._path)
        except OSError as e:
            log.error("graphite: cannot create a journal in %s (%s); keeping unconfirmed "
                      "points in memory", self.outbox.path, e)
            if self._file is not None:
                self._file.close()
                self._file = None
                try:
                    temp.unlink()
                except OSError:
                    pass
            self._memory = []

    def _to_memory(self) -> None:
        try:
            data = self._path.read_bytes()[:self.size]
        except OSError:
            data = b""
        self._memory = [data] if data else []
        self._discard_file()

    def chunks(self) -> Iterator[bytes]:
        if self._memory is not None:
            yield from self._memory
            return
        if self._file is None:
            return
        with open(self._path, "rb") as f:
            left = self.size
            while left > 0:
                chunk = f.read(min(READ_CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk

    def discard(self) -> None:
        self._discard_file()
        self._memory = None
        self.count = self.size = 0

    def _discard_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            try:
                self._path.unlink()
            except OSError:
                pass

    def persist(self) -> int:
        """Make the journal an outbox file; returns the points that could NOT be kept."""
        if not self.count:
            self.discard()
            return 0
        try:
            if self._file is not None:
                os.fsync(self._file.fileno())
                os.replace(self._path, self._path.with_name(
                    f"{self._path.stem}-{self.count}.points"))
                fsync_folder(self.outbox.path)
                self._file.close()
                self._file = None
            else:
                self.outbox.add(b"".join(self._memory or []), self.count)
                self._memory = None
            return 0
        except OSError as e:
            log.error("graphite: %d point(s) could not be queued in %s: %s", self.count,
                      self.outbox.path, e)
            return self.count
        finally:
            self.count = self.size = 0
