"""Helpers for the receiver tests (no tests here): the app on a real socket under waitress, and
signed Zendesk deliveries built with the connector's own ``sign``."""
from __future__ import annotations

import json
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import waitress
from rq import Queue
from rq.serializers import JSONSerializer

from tiergate.connectors.zendesk_webhook import format_timestamp, signed_headers

SECRET = "whsec-test-0123456789abcdef"


class LiveServer:
    """A WSGI app served by waitress (the production server) on a free loopback port."""

    def __init__(self, app, threads: int = 4):
        self.server = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads,
                                             ident="tiergate-test", clear_untrusted_proxy_headers=True)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Close the listener and every connection; the loop thread (a daemon) ends on its own
        within waitress's 1 s poll timeout once its socket map is empty."""
        self.server.task_dispatcher.shutdown(timeout=2)
        for channel in list(self.server._map.values()):
            try:
                channel.close()
            except OSError:
                pass


@contextmanager
def live(app, threads: int = 4) -> Iterator[LiveServer]:
    server = LiveServer(app, threads)
    try:
        yield server
    finally:
        server.stop()


def event_body(ticket_id: int = 35436, event_id: str | None = None, **overrides: Any) -> dict:
    body = {
        "type": "zen:event-type:ticket.created", "account_id": 1, "id": event_id or str(uuid.uuid4()),
        "time": "2024-04-17T17:18:10Z", "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket_id}",
        "detail": {"id": str(ticket_id), "status": "NEW", "priority": None, "tags": ["vip"],
                   "subject": "Cannot log in", "via": {"channel": "web"}},
        "event": {},
    }
    body.update(overrides)
    return body


def signed(body: bytes | dict, secret: str = SECRET, at: datetime | None = None,
           content_type: str = "application/json") -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    timestamp = format_timestamp(at or datetime.now(timezone.utc))
    headers = {**signed_headers(raw, secret, timestamp), "Content-Type": content_type,
               "User-Agent": "Zendesk Webhook", "X-Zendesk-Webhook-Id": "01HWEBHOOK"}
    return raw, headers


def stale(minutes: int = 10) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=minutes)


def queue_len(conn, name: str = "tiergate") -> int:
    return Queue(name, connection=conn, serializer=JSONSerializer).count


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value

