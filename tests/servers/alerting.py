"""Real SMTP (aiosmtpd) and HTTP servers on loopback that record alert messages.

A pytest plugin (``pytest_plugins = ["servers.alerting"]``).

Fixtures
--------
``smtp_server``     a running :class:`SmtpServer`; ``.messages`` holds each
                    message received (envelope recipients and the parsed MIME).
                    ``.hold()`` makes the server keep the next DATA unanswered
                    until ``.release()``; ``.stop()``/``.start()`` an outage.
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

        self.server.data_started.set()
        while self.server.holding.is_set():
            await asyncio.sleep(0.02)
        if self.server.dropping:
            return "451 4.3.0 dropped by the test"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                             parsed))
        return "250 OK"


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Received] = []
        self.holding = threading.Event()
        self.data_started = threading.Event()
        self.dropping = False
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def hold(self) -> None:
        self.data_started.clear()
        self.holding.set()

    def release(self, drop: bool = False) -> None:
        self.dropping = drop
        self.holding.clear()

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
