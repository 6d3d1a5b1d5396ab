"""Send points to carbon over TCP and confirm that carbon has read them all.

Input: points (``graphite_points``), the graphite config and the outbox.
Output: a ``Delivery``: points confirmed, still queued, or lost. Carbon
acknowledges nothing, so delivery is confirmed at the end: the sender
half-closes its connection and waits for carbon to close its side, which
carbon does only after it has read everything. Until then each point sent is
kept in the sender's journal in the outbox (``outbox``). If carbon can't be
reached, the connection breaks or the process dies, the journal stays there
as an outbox file, and the next run or push delivers the outbox before
anything new. Sending a point twice is harmless: whisper keeps one value per
metric and time slot, the last one sent.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..config import GraphiteConfig
from .graphite_points import Point, encode_lines, parse_lines, pickle_frames
from .outbox import READ_CHUNK, GraphiteOutbox, Journal

log = logging.getLogger(__name__)

BACKOFF_SECONDS = 0.5  # first pause before a retry; doubles each time
MAX_BACKOFF_SECONDS = 30.0

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
    queued. Not thread-safe: a run calls its sinks from one thread.
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
        self._journal = Journal(outbox)
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
                for point in parse_lines(chunks):
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
