"""Fixtures for the local Zendesk-compatible server and the zenpy connector (owned by connectors).

- ``zendesk_server_module``: one server per test module (cheap to keep, started once).
- ``zendesk_server``: that server, reset before each test (seeded groups/agents, default knobs,
  zero stats, no tickets/webhooks).
- ``zendesk_settings``: ``Settings`` pointing at it (with a webhook secret).
- ``zendesk_connector``: a real ``ZendeskConnector`` talking to it over HTTP.
- ``webhook_receiver``: a tiny HTTP server recording what it is sent (``.url``, ``.received``,
  ``.wait(n)``, ``.statuses`` — answers to give, in order, then 200).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tiergate.connectors.zendesk import ZendeskConnector, from_connection
from tiergate.localdesk.zendesk import ServerHandle, start_server
from tiergate.runtime.config import Settings

WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture(scope="module")
def zendesk_server_module():
    handle = start_server(port=0)
    yield handle
    handle.stop()


@pytest.fixture
def zendesk_server(zendesk_server_module) -> ServerHandle:
    zendesk_server_module.reset()
    return zendesk_server_module


@pytest.fixture
def zendesk_settings(zendesk_server) -> Settings:
    return Settings(webhook_secret=WEBHOOK_SECRET, **zendesk_server.settings_overrides())


@pytest.fixture
def zendesk_connector(zendesk_settings) -> ZendeskConnector:
    return from_connection(zendesk_settings.connection())


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class Receiver:
    """What a webhook endpoint saw: list of {"method", "path", "headers", "body"}."""

    url: str = ""
    received: list[dict] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, n: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.received) < n and time.monotonic() < deadline:
                self.cond.wait(0.05)
            return list(self.received)


@pytest.fixture
def webhook_receiver():
    rec = Receiver()

    @Request.application
    def app(request: Request) -> Response:
        with rec.cond:
            rec.received.append({"method": request.method, "path": request.path,
                                 "headers": dict(request.headers), "body": request.get_data()})
            status = rec.statuses.pop(0) if rec.statuses else 200
            rec.cond.notify_all()
        return Response("{}", status=status, content_type="application/json")

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_port}/webhooks/zendesk"
    yield rec
    server.shutdown()
    server.server_close()
