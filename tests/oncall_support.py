"""Helpers for the on-call delivery tests (no tests here): a real local SMTP server (aiosmtpd)
and a real local HTTP receiver that records POSTs and can fail the first N with a status."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tiergate.plugin.embedded import free_port


@dataclass
class Mailbox:
    messages: list = field(default_factory=list)    # (at, envelope recipients, email.message.Message)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((time.monotonic(), list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


class SmtpServer:
    def __init__(self):
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def messages(self) -> list:
        return self.mailbox.messages

    def stop(self) -> None:
        self.controller.stop()


class Receiver:
    """POSTs to any path are recorded as (monotonic time, path, JSON body); ``fail_next[path] = n``
    answers the next n POSTs to that path with ``fail_status``."""

    def __init__(self):
        self.posts: list[tuple[float, str, Any]] = []
        self.fail_next: dict[str, int] = {}
        self.fail_status = 503
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with outer.lock:
                    failing = outer.fail_next.get(self.path, 0)
                    if failing:
                        outer.fail_next[self.path] = failing - 1
                    else:
                        outer.posts.append((time.monotonic(), self.path, json.loads(body or b"null")))
                status = outer.fail_status if failing else 202
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "success"}' if status < 300 else b'{"error": "down"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, path: str) -> list:
        with self.lock:
            return [p for p in self.posts if p[1] == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
