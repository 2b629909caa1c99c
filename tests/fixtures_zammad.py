"""Fixtures for the local Zammad-compatible server and the Zammad connector (owned by desk2).

Same style as the Zendesk fixtures: ``zammad_server`` is a running ``ServerHandle`` (real HTTP on
a free port); ``zammad_connector`` talks to it; ``zammad_receiver`` records what the desk POSTs.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tiergate.connectors.zammad import ZammadConnector
from tiergate.localdesk.zammad import start_server

ZAMMAD_WEBHOOK_SECRET = "zammad-test-signing-token"


@pytest.fixture
def zammad_server():
    handle = start_server(port=0)
    yield handle
    handle.stop()


@pytest.fixture
def zammad_connector(zammad_server):
    return ZammadConnector(zammad_server.url, zammad_server.token, webhook_secret=ZAMMAD_WEBHOOK_SECRET,
                           timeout=(2.0, 5.0))


@dataclass
class Receiver:
    """A real HTTP endpoint that records every POST (headers + raw body) and answers ``status``."""

    url: str
    received: list = field(default_factory=list)
    status: int = 202
    _server: object = None

    def wait_for(self, count: int, timeout: float = 5.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.received)


@pytest.fixture
def zammad_receiver():
    holder: dict = {}

    @Request.application
    def app(request: Request) -> Response:
        rec = holder["r"]
        rec.received.append({"path": request.path, "headers": dict(request.headers),
                             "body": request.get_data()})
        return Response('{"status": "accepted"}', status=rec.status, mimetype="application/json")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec = Receiver(url=f"http://127.0.0.1:{server.server_port}/webhooks/zammad", _server=server)
    holder["r"] = rec
    yield rec
    server.shutdown()
    thread.join(timeout=5)
