"""Publish report rows to Graphite without losing a point.

Input: the rows a run writes to a timeline (the Runner's ``timeline_written``
hook) or, for ``reportupdater push``, the rows already in the TSV files.
Output: one point ``path value timestamp`` per row and configured metric,
stamped with the start of the row's interval as a UTC epoch, sent over one
TCP connection to carbon in the plaintext or pickle protocol.

Carbon acknowledges nothing, so delivery is confirmed at the end: the sender
half-closes its connection and waits for carbon to close its side, which
carbon does only after it has read everything. Until then each point sent is
kept in a journal file in the outbox (``<output>/.graphite-outbox/``). If
carbon can't be reached, the connection breaks or the process dies, the
journal stays there as an outbox file, and the next run or push delivers the
outbox before anything new. Sending a point twice is harmless: whisper keeps
one value per metric and time slot, the last one sent.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import fcntl
import logging
import math
import os
import pickle
import re
import socket
import string
import struct
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from . import cli
from . import timeline as tl
from .config import Config, GraphiteConfig, ReportConfig
from .errors import TimelineError, UsageError
from .intervals import Granularity
from .pipeline import Failure, RunSummary, selected_reports

log = logging.getLogger(__name__)

OUTBOX_DIR = ".graphite-outbox"
BACKOFF_SECONDS = 0.5  # first pause before a retry; doubles each time
MAX_BACKOFF_SECONDS = 30.0
READ_CHUNK = 1 << 20
# carbon drops a pickle connection whose frame exceeds PICKLE_RECEIVER_MAX_LENGTH
# (1 MiB by default), so frames stay well below it.
MAX_PICKLE_FRAME = 900_000

Point = tuple[str, str, int]  # metric path, value as sent, UTC epoch seconds


# -- points -----------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


@lru_cache(maxsize=65536)
def sanitise(value: str) -> str:
    """A metric path component from data: anything but ASCII letters, digits,
    ``_`` and ``-`` (dots, spaces, slashes, quotes...) becomes ``_``."""
    return _UNSAFE.sub("_", value) or "_"


@lru_cache(maxsize=65536)
def numeric(text: str) -> str | None:
    """``text`` as carbon should get it, or None when it is no finite number."""
    try:
        number = float(text)
    except ValueError:  # "" and words
        return None
    # float() also takes "1_000" and non-ASCII digits; carbon's peers may not.
    if not math.isfinite(number) or not text.isascii() or "_" in text:
        return None
    return text.strip()


def interval_timestamp(label: str, granularity: Granularity) -> int:
    """The UTC epoch of the start of the interval a row's date label falls in."""
    moment = dt.datetime.strptime(label, granularity.date_format)
    return calendar.timegm(granularity.truncate(moment).timetuple())


def epoch(moment: dt.datetime) -> int:
    return calendar.timegm(moment.timetuple())


def path_fields(path: str) -> set[str]:
    """The field names a ``str.format`` path uses (``{a.b}`` and ``{a[0]}`` use ``a``)."""
    names = set()
    for _, name, _, _ in string.Formatter().parse(path):
        if name:
            names.add(re.split(r"[.\[]", name, maxsplit=1)[0])
    return names


class PointBuilder:
    """Turns one report's timeline rows into points; remembers what it skipped.

    The path is formatted with, in increasing precedence: the explode values
    (through the lookups), every column of the row by header name, and
    ``_metric``, as in the original reportupdater. Values from data are
    sanitised; the path's own text, the metric names and the prefix come from
    the config, which checks them.
    """

    def __init__(self, report: ReportConfig, graphite: GraphiteConfig):
        assert report.graphite is not None
        self.report = report
        self.path = report.graphite.path
        self.metrics = report.graphite.metrics
        self.prefix = graphite.prefix.strip(".") + "." if graphite.prefix.strip(".") else ""
        self.lookups = graphite.lookups
        self.fields = path_fields(self.path) - {"_metric"}
        self.skipped = 0
        self.skipped_example = ""
        self.errors: list[str] = []
        self._timestamps: dict[str, int] = {}

    def timestamp(self, label: str) -> int:
        ts = self._timestamps.get(label)
        if ts is None:
            ts = self._timestamps[label] = interval_timestamp(label, self.report.granularity)
        return ts

    def _error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    def points(self, explode: Mapping[str, str], header: Sequence[str],
               rows: Iterable[Sequence[str]], since: int | None = None,
               until: int | None = None) -> list[Point]:
        """Points of ``rows``; with ``since``/``until``, only intervals starting in
        ``[since, until)``."""
        index = {name: i for i, name in enumerate(header)}
        base = {}
        for name, value in explode.items():
            base[name] = sanitise(self.lookups.get(name, {}).get(value, value))
        unknown = sorted(self.fields - set(base) - set(index))
        if unknown:
            self._error(
                f"graphite.path {self.path!r} uses {', '.join('{' + u + '}' for u in unknown)}, "
                f"which is neither an explode placeholder nor a column (columns: "
                f"{', '.join(header)}; placeholders: {', '.join(base) or 'none'})")
            return []
        metrics = []
        for metric, column in self.metrics:
            if column not in index:
                self._error(f"graphite metric {metric!r} reads column {column!r}, which the "
                            f"report does not have (columns: {', '.join(header)})")
            else:
                metrics.append((metric, index[column]))
        row_fields = [(name, index[name]) for name in self.fields if name in index]
        fmt = self.prefix + self.path
        low = -math.inf if since is None else since
        high = math.inf if until is None else until
        stamps = self._timestamps
        out: list[Point] = []
        append = out.append
        try:
            for row in rows:
                ts = stamps.get(row[0])  # the hot loop: no method call per row
                if ts is None:
                    ts = self.timestamp(row[0])
                if not low <= ts < high:
                    continue
                values = base.copy()
                for name, i in row_fields:
                    values[name] = sanitise(row[i])
                for metric, i in metrics:
                    value = numeric(row[i])
                    if value is None:
                        self.skipped += 1
                        if not self.skipped_example:
                            self.skipped_example = (f"column {header[i]!r} is {row[i]!r} "
                                                    f"on {row[0]}")
                        continue
                    values["_metric"] = metric
                    append((fmt.format_map(values), value, ts))
        except (ValueError, AttributeError, IndexError, KeyError, TypeError) as e:
            self._error(f"graphite.path {self.path!r} cannot be formatted: "
                        f"{type(e).__name__}: {e}")
            return []
        return out

    def log_skipped(self) -> None:
        if self.skipped:
            log.info("graphite: report %r: %d value(s) skipped because they are empty or "
                     "not numbers (first: %s)", self.report.key, self.skipped,
                     self.skipped_example)
            self.skipped, self.skipped_example = 0, ""


def encode_lines(points: Sequence[Point]) -> bytes:
    return "".join([f"{path} {value} {ts}\n" for path, value, ts in points]).encode()


def pickle_frames(points: Sequence[tuple[str, str | float, int]]) -> Iterator[bytes]:
    """carbon's pickle protocol: a 4-byte length, then a pickled list of
    ``(path, (timestamp, value))``, split to stay under carbon's frame limit."""
    payload = pickle.dumps([(p, (ts, float(v))) for p, v, ts in points], protocol=2)
    if len(payload) > MAX_PICKLE_FRAME and len(points) > 1:
        half = len(points) // 2
        yield from pickle_frames(points[:half])
        yield from pickle_frames(points[half:])
        return
    yield struct.pack("!L", len(payload)) + payload


def _parse_lines(chunks: Iterable[bytes]) -> Iterator[tuple[str, str, int]]:
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if line:
                path, value, ts = line.decode().split(" ")
                yield path, value, int(ts)


# -- outbox -----------------------------------------------------------------

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
        _fsync_dir(self.path)
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


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


class _Journal:
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
                _fsync_dir(self.outbox.path)
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


# -- sending ----------------------------------------------------------------

@dataclass
class Delivery:
    sent: int = 0  # points carbon confirmed, outbox included
    queued: int = 0  # points waiting in the outbox afterwards
    lost: int = 0  # points neither delivered nor queued (the outbox can't be written)


class GraphiteSender:
    """One delivery session: the outbox first, then new points, then confirm.

    ``send()`` journals points at once (a killed process loses none) and
    writes them with one ``sendall`` per ``batch_size`` points. A failed
    connect or a broken connection is retried ``retries`` times in all, with
    a backoff of 0.5 s doubling; a new connection first re-sends everything not
    yet confirmed. When the retries are spent, the rest is only journaled.
    ``close()`` confirms delivery and removes what was delivered, or leaves it
    queued. Not thread-safe: the Runner calls observers from one thread.
    """

    def __init__(self, config: GraphiteConfig, outbox: GraphiteOutbox, *,
                 sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.outbox = outbox
        self.sleep = sleep
        self.address = f"{config.host}:{config.port}"
        self._started = False
        self._closed = False
        self._lock: int | None = None
        self._claimed: list[Path] = []
        self._journal = _Journal(outbox)
        self._unsent_data: list[bytes] = []  # journaled, not yet written
        self._unsent: list[Point] = []  # the same points, for pickle
        self._unsent_count = 0
        self._sock: socket.socket | None = None
        self._down = False
        self._failures = 0

    # public

    def send(self, points: Sequence[Point]) -> None:
        """Journal ``points`` at once; write them when a batch is full."""
        self._start()
        batch = self.config.batch_size
        for i in range(0, len(points), batch):
            chunk = points[i:i + batch]
            data = encode_lines(chunk)
            self._journal.append(data, len(chunk))
            self._unsent_data.append(data)
            if self.config.protocol == "pickle":
                self._unsent.extend(chunk)
            self._unsent_count += len(chunk)
            if self._unsent_count >= batch:
                self._flush()

    def _flush(self) -> None:
        data, points = b"".join(self._unsent_data), self._unsent
        self._unsent_data, self._unsent, self._unsent_count = [], [], 0
        if self._down or not data:
            return
        if self._sock is not None:
            try:
                self._write(points, data)
                return
            except OSError as e:
                self._broken(e)
        self._connect()  # replays the whole journal, these points included

    def close(self) -> Delivery:
        """Confirm delivery, settle the outbox and release it."""
        if self._closed:
            return Delivery(queued=self.outbox.count())
        self._start()
        self._flush()
        confirmed = False
        if self._claimed or self._journal.count:
            self._connect()
            while self._sock is not None:
                try:
                    self._confirm()
                    confirmed = True
                except OSError as e:
                    self._broken(e)
                    self._connect()
        delivery = Delivery()
        if confirmed:
            for path in self._claimed:
                delivery.sent += self.outbox.points_in(path)
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
            delivery.sent += self._journal.count
            self._journal.discard()
            if delivery.sent:
                log.info("graphite: %d point(s) delivered to %s", delivery.sent, self.address)
        else:
            delivery.lost = self._journal.persist()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
        self._closed = True
        delivery.queued = self.outbox.count()
        return delivery

    # internals

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        if not self.outbox.path.is_dir():
            return
        self._lock = self.outbox.lock()
        if self._lock is None:
            log.info("graphite: another process is delivering the outbox %s; leaving it "
                     "to that process", self.outbox.path)
            return
        self.outbox.recover_journals()
        self._claimed = self.outbox.files()
        if self._claimed:
            count = sum(map(self.outbox.points_in, self._claimed))
            log.info("graphite: delivering %d queued point(s) from %s first", count,
                     self.outbox.path)
            self._connect()

    def _connect(self) -> None:
        """Open a connection and re-send everything unconfirmed, retrying."""
        while self._sock is None and not self._down:
            if self._failures > self.config.retries:
                self._down = True
                log.warning("graphite: giving up on %s after %d attempt(s); points go to "
                            "the outbox %s", self.address, self._failures, self.outbox.path)
                return
            if self._failures:
                pause = min(BACKOFF_SECONDS * 2 ** (self._failures - 1), MAX_BACKOFF_SECONDS)
                log.info("graphite: retrying %s in %.1f s (retry %d of %d)", self.address,
                         pause, self._failures, self.config.retries)
                self.sleep(pause)
            try:
                self._sock = socket.create_connection(
                    (self.config.host, self.config.port), timeout=self.config.timeout)
                self._replay()
            except OSError as e:
                self._broken(e)

    def _broken(self, error: OSError) -> None:
        self._failures += 1
        log.warning("graphite: connection to %s failed: %s", self.address,
                    error.strerror or error or type(error).__name__)
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None

    def _write(self, points: Sequence[Point], data: bytes) -> None:
        if self.config.protocol == "pickle":
            batch = self.config.batch_size
            for i in range(0, len(points), batch):
                for frame in pickle_frames(points[i:i + batch]):
                    self._sock.sendall(frame)
        else:
            self._sock.sendall(data)

    def _replay(self) -> None:
        sources = [_read_file(path) for path in self._claimed]
        sources.append(self._journal.chunks())
        for chunks in sources:
            if self.config.protocol == "pickle":
                batch: list[Point] = []
                for point in _parse_lines(chunks):
                    batch.append(point)
                    if len(batch) >= self.config.batch_size:
                        self._write(batch, b"")
                        batch = []
                self._write(batch, b"")
            else:
                for chunk in chunks:
                    self._sock.sendall(chunk)

    def _confirm(self) -> None:
        """Half-close and wait for carbon to close: it then has read everything."""
        sock = self._sock
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + self.config.timeout
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if not sock.recv(65536):
                break
        sock.close()
        self._sock = None


def _read_file(path: Path) -> Iterator[bytes]:
    try:
        with open(path, "rb") as f:
            while chunk := f.read(READ_CHUNK):
                yield chunk
    except FileNotFoundError:
        return  # delivered meanwhile by another process


# -- the run observer ---------------------------------------------------------

class GraphitePublisher:
    """Run observer: sends the rows each timeline commit wrote, new and rerun."""

    def __init__(self, config: GraphiteConfig, output_folder: Path,
                 sender: GraphiteSender | None = None):
        self.config = config
        self.sender = sender or GraphiteSender(config, GraphiteOutbox(output_folder))
        self.builders: dict[str, PointBuilder] = {}
        self.failed: dict[str, str] = {}  # report -> why its points were not built

    def builder(self, report: ReportConfig) -> PointBuilder:
        builder = self.builders.get(report.key)
        if builder is None:
            builder = self.builders[report.key] = PointBuilder(report, self.config)
        return builder

    def timeline_written(self, report: ReportConfig, explode: Mapping[str, str],
                         header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        if report.graphite is None:
            return
        try:
            points = self.builder(report).points(explode, header, rows)
        except Exception as e:  # noqa: BLE001 - recorded as the report's failure
            log.exception("graphite: points of report %r could not be built", report.key)
            self.failed.setdefault(report.key, f"{type(e).__name__}: {e}")
            return
        self.sender.send(points)

    def run_finished(self, summary: RunSummary, seconds: float) -> None:
        delivery = self.sender.close()
        summary.graphite_sent += delivery.sent
        summary.graphite_queued = delivery.queued
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        for builder in self.builders.values():
            builder.log_skipped()
            for error in builder.errors:
                self._fail(summary, builder.report.key, error, now)
        for key, error in self.failed.items():
            self._fail(summary, key, f"graphite points could not be built: {error}", now)
        if delivery.lost:
            summary.failures.append(Failure(
                "graphite", {}, None, f"{delivery.lost} Graphite point(s) were neither "
                "delivered nor queued; resend them with 'reportupdater push'", now))
        if delivery.queued:
            log.warning("graphite: %d point(s) wait in the outbox %s; the next run or "
                        "'reportupdater push' delivers them first", delivery.queued,
                        self.sender.outbox.path)

    @staticmethod
    def _fail(summary: RunSummary, report: str, error: str, now: dt.datetime) -> None:
        failure = Failure(report, {}, None, error + " (fix it, then resend with "
                          f"'reportupdater push -r {report}')", now)
        summary.failures.append(failure)
        log.error("%s", failure.describe())


def graphite_observers(config: Config, args: argparse.Namespace, options) -> list:
    """The run's Graphite publisher, unless --no-graphite or no graphite config."""
    if getattr(args, "no_graphite", False) or config.graphite is None:
        return []
    return [GraphitePublisher(config.graphite, options.output_folder)]


# -- push: re-send history from the TSVs --------------------------------------

@dataclass
class PushResult:
    files: int = 0
    points: int = 0
    delivery: Delivery = field(default_factory=Delivery)
    errors: list[str] = field(default_factory=list)


def push_history(config: Config, output_folder: Path, reports: Sequence[ReportConfig],
                 since: dt.datetime | None = None, until: dt.datetime | None = None,
                 sender: GraphiteSender | None = None) -> PushResult:
    """Send the points of every row of ``reports`` whose interval starts in
    ``[since, until)``, outbox first. TSVs are read one at a time."""
    assert config.graphite is not None
    sender = sender or GraphiteSender(config.graphite, GraphiteOutbox(output_folder))
    result = PushResult()
    since_ts = epoch(since) if since else None
    until_ts = epoch(until) if until else None
    try:
        for report in reports:
            builder = PointBuilder(report, config.graphite)
            for explode in report.explode_combinations():
                path = report.timeline_path(output_folder, explode)
                try:
                    timeline = tl.read_timeline(path, report.granularity)
                except TimelineError as e:
                    result.errors.append(str(e))
                    log.error("push: %s", e)
                    continue
                if timeline is None:
                    log.debug("push: %s does not exist", path)
                    continue
                result.files += 1
                rows = (row for label in sorted(timeline.rows) for row in timeline.rows[label])
                points = builder.points(explode, timeline.header, rows, since_ts, until_ts)
                result.points += len(points)
                sender.send(points)
            builder.log_skipped()
            for error in builder.errors:
                result.errors.append(f"report {report.key!r}: {error}")
                log.error("push: report %r: %s", report.key, error)
    finally:
        result.delivery = sender.close()
    return result


PUSH_DOC = """\
Re-send points to Graphite from the TSV timelines in OUTPUT_FOLDER, without
running any query: after adding a graphite section to an old report, or when
a Graphite server was rebuilt. The outbox is delivered first. --since and
--until select rows by the start of their interval, [SINCE, UNTIL).

Exit status: 0 every point delivered; 1 a timeline could not be read or a
graphite path does not fit the data; 2 bad invocation or config; 3 points
wait in the outbox.

Example:
  reportupdater push queries output -r toggles_by_editor --since 2026-08-01
"""


def add_push_parser(sub) -> None:
    push = sub.add_parser(
        "push", formatter_class=cli._Formatter, help="re-send history from the TSVs to "
        "Graphite", description=PUSH_DOC)
    push.add_argument("query_folder", nargs="?", type=Path, default=Path("queries"),
                      metavar="QUERY_FOLDER", help="folder of config.yaml (default: ./queries)")
    push.add_argument("output_folder", nargs="?", type=Path, default=Path("output"),
                      metavar="OUTPUT_FOLDER", help="where the timelines are (default: ./output)")
    push.add_argument("-r", "--report", action="append", default=[], metavar="REPORT",
                      help="push only this report (repeatable; default: every report with "
                           "a graphite section)")
    push.add_argument("--since", type=cli._moment, metavar="DATE",
                      help="first interval start to send, inclusive (default: none)")
    push.add_argument("--until", type=cli._moment, metavar="DATE",
                      help="interval start to stop before, exclusive (default: none)")
    cli._add_common(push)


@cli.command("push")
def cmd_push(args: argparse.Namespace) -> int:
    config = cli.read_config(args)
    cli.check_report_names(config, args.report)
    if config.graphite is None:
        raise UsageError(f"the config {config.path} has no top-level graphite section "
                         "(host, port), so there is nowhere to push to")
    if args.since and args.until and args.since >= args.until:
        raise UsageError(f"--since {args.since:%Y-%m-%d %H:%M:%S} must be before --until "
                         f"{args.until:%Y-%m-%d %H:%M:%S}")
    if not args.output_folder.is_dir():
        raise UsageError(f"output folder {str(args.output_folder)!r} does not exist or is "
                         "not a folder")
    reports = selected_reports(config, args.report)
    without = [r.key for r in reports if r.graphite is None and args.report]
    if without:
        raise UsageError(f"report {', '.join(map(repr, without))} has no graphite section "
                         "(path, metrics), so it has no points to push")
    reports = [r for r in reports if r.graphite is not None]
    if not reports:
        log.warning("push: no report has a graphite section; only the outbox is delivered")
    result = push_history(config, args.output_folder, reports, args.since, args.until)
    log.info("push: %d point(s) from %d file(s); %d delivered, %d waiting in the outbox",
             result.points, result.files, result.delivery.sent, result.delivery.queued)
    if result.delivery.queued:
        log.warning("push: %d point(s) wait in the outbox %s", result.delivery.queued,
                    Path(args.output_folder) / OUTBOX_DIR)
    if result.errors or result.delivery.lost or config.errors:
        return cli.EXIT_FAILED
    if result.delivery.queued:
        return cli.EXIT_QUEUED
    return cli.EXIT_OK


cli.OBSERVER_FACTORIES.append(graphite_observers)
cli.PARSER_EXTENSIONS.append(add_push_parser)
