"""Real SMTP (aiosmtpd) and HTTP servers on loopback that record alert messages.

A pytest plugin (``pytest_plugins = ["servers.alerting"]``).

Fixtures
--------
``smtp_server``     a running :class:`SmtpServer`; ``.messages`` holds each
                    message received (envelope recipients and the parsed MIME).
                    ``.hold()`` leaves the next DATA unanswered until
                    ``.release()``; ``.stop()``/``.start()`` an outage.
``webhook_server``  a running :class:`WebhookServer`; ``.posts`` holds each POST
                    (path, headers, parsed JSON); ``.status`` is what it answers.

Both bind 127.0.0.1 on a free port, and poll (never sleep) in ``wait_for``.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Iterator

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _poll(check, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_DATA(self, smtp_server, session, envelope) -> str:  # noqa: ANN001
        import asyncio

        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), parsed)
        if self.server.holding.is_set() and self.server.keep_held:
            self.server.messages.append(received)  # kept, though the client hears nothing
        self.server.data_started.set()
        try:
            while self.server.holding.is_set():
                await asyncio.sleep(0.02)
        except asyncio.CancelledError:  # the client went away
            self.server.abandoned.set()
            raise
        if self.server.keep_held:
            return "250 OK"
        self.server.messages.append(received)
        return "250 OK"


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Received] = []
        self.holding = threading.Event()
        self.data_started = threading.Event()
        self.abandoned = threading.Event()  # a held DATA whose client disconnected
        self.keep_held = False
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def hold(self, keep: bool = False) -> None:
        """Answer no DATA until ``release``; with ``keep``, record the message
        at once, as a server that has it but never said so."""
        self.keep_held = keep
        self.data_started.clear()
        self.abandoned.clear()
        self.holding.set()

    def release(self) -> None:
        self.holding.clear()
        self.keep_held = False

    def wait_abandoned(self, timeout: float = 30.0) -> None:
        _poll(self.abandoned.is_set, "the held client to disconnect", timeout)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        _poll(lambda: len(self.messages) >= count, f"{count} message(s)", timeout)
        return self.messages


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: Any


class WebhookServer:
    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.status = 200
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status = server.status
                if status < 300:
                    server.posts.append(Post(self.path, dict(self.headers.items()),
                                             json.loads(body)))
                else:
                    server.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.refused = 0
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Post]:
        _poll(lambda: len(self.posts) >= count, f"{count} webhook post(s)", timeout)
        return self.posts


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.release()
    server.stop()


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.stop()
