"""Dedupe + enqueue as one atomic Redis step, and replays under a new unsigned id.

A real TCP proxy sits between the receiver and a real Redis and cuts the connection after the
N-th chunk the receiver sends (then refuses connections until it is brought back): whatever N,
the helpdesk's retry of the same delivery is answered 2xx and exactly one job exists."""
from __future__ import annotations

import socket
import threading

import pytest
import redis
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry

from test_web_support import SECRET, event_body, live, queue_len, signed
from tiergate.connectors import zammad_webhook
from tiergate.plugin.web import create_app

URL = "/webhooks/zendesk"


class CuttingProxy:
    """Relays TCP to ``target``; after ``cut_after`` client chunks it forwards that chunk, drops
    the connection before the reply, and refuses every connection until ``restore()``."""

    def __init__(self, target: tuple[str, int], cut_after: int):
        self.target, self.cut_after, self.seen, self.down = target, cut_after, 0, False
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def restore(self) -> None:
        with self.lock:
            self.down, self.cut_after = False, 10**9

    def close(self) -> None:
        self.closed = True
        self.listener.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._up, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client), daemon=True).start()

    def _up(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while True:
                chunk = client.recv(65536)
                if not chunk:
                    break
                with self.lock:
                    self.seen += 1
                    cut = self.seen >= self.cut_after
                    if cut:
                        self.down = True
                upstream.sendall(chunk)
                if cut:
                    break
        except OSError:
            pass
        for s in (client, upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _down(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while True:
                chunk = upstream.recv(65536)
                if not chunk or self.down:
                    break
                client.sendall(chunk)
        except OSError:
            pass


def _app(conn: redis.Redis):
    return create_app({"redis_url": "redis://unused", "webhook_secret": SECRET, "REDIS": conn,
                       "admin_token": "admin-token-xyz"})


@pytest.mark.parametrize("cut_after", range(1, 9))
def test_redis_lost_mid_store_never_strands_the_delivery(redis_server, redis_conn, cut_after):
    host, port = redis_conn.connection_pool.connection_kwargs["host"], redis_conn.connection_pool.connection_kwargs["port"]
    proxy = CuttingProxy((host, port), cut_after)
    conn = redis.Redis(host="127.0.0.1", port=proxy.port, socket_timeout=2, socket_connect_timeout=2,
                       retry=Retry(NoBackoff(), 1))   # as the receiver builds its own
    try:
        with live(_app(conn)) as srv, requests.Session() as http:
            raw, headers = signed(event_body(ticket_id=7, event_id=f"evt-cut-{cut_after}"))
            first = http.post(srv.url + URL, data=raw, headers=headers, timeout=10)
            assert first.status_code in (202, 503), first.text
            proxy.restore()
            retry = http.post(srv.url + URL, data=raw, headers=headers, timeout=10)
            assert retry.status_code in (200, 202), (first.status_code, retry.text)
            again = http.post(srv.url + URL, data=raw, headers=headers, timeout=10)
            assert again.status_code == 200 and again.json()["status"] == "duplicate"
    finally:
        proxy.close()
    assert queue_len(redis_conn) == 1


def test_receiver_hot_path_is_one_redis_round_trip(redis_server, redis_conn):
    kwargs = redis_conn.connection_pool.connection_kwargs
    proxy = CuttingProxy((kwargs["host"], kwargs["port"]), 10**9)   # counts what the receiver sends
    conn = redis.Redis(host="127.0.0.1", port=proxy.port, socket_timeout=2)
    try:
        with live(_app(conn)) as srv, requests.Session() as http:
            raw, headers = signed(event_body(ticket_id=8))
            assert http.post(srv.url + URL, data=raw, headers=headers).status_code == 202  # warm-up
            before = proxy.seen
            for n in range(20):
                raw, headers = signed(event_body(ticket_id=100 + n))
                assert http.post(srv.url + URL, data=raw, headers=headers).status_code == 202
            sent = proxy.seen - before
    finally:
        proxy.close()
    assert sent == 20, sent


def test_zendesk_replay_under_a_new_invocation_id_is_a_duplicate(redis_server, redis_conn, redis_url):
    app = create_app({"redis_url": redis_url, "webhook_secret": SECRET})
    with live(app) as srv, requests.Session() as http:
        raw, headers = signed({"ticket_id": 55})
        first = http.post(srv.url + URL, data=raw, headers={**headers, "X-Zendesk-Webhook-Invocation-Id": "inv-1"})
        assert first.status_code == 202, first.text
        replay = http.post(srv.url + URL, data=raw, headers={**headers, "X-Zendesk-Webhook-Invocation-Id": "inv-2"})
        assert replay.status_code == 200 and replay.json()["status"] == "duplicate", replay.text
        # the next event on the ticket is signed at another instant: it is new
        raw2, headers2 = signed({"ticket_id": 55, "n": 2})
        assert http.post(srv.url + URL, data=raw2, headers={**headers2, "X-Zendesk-Webhook-Invocation-Id": "inv-3"}
                         ).status_code == 202
    assert queue_len(redis_conn) == 1   # the second joined the job still waiting for ticket 55


def test_zammad_replay_under_a_new_delivery_id_is_a_duplicate(redis_server, redis_conn, redis_url):
    app = create_app({"redis_url": redis_url, "webhook_secret": SECRET, "helpdesk": "zammad"})
    body = b'{"ticket": {"id": 12, "updated_at": "2026-01-01T10:00:00Z"}, "article": {}}'
    with live(app) as srv, requests.Session() as http:
        first = http.post(srv.url + "/webhooks/zammad", data=body,
                          headers=zammad_webhook.signed_headers(body, SECRET, "dlv-1"))
        assert first.status_code == 202, first.text
        replay = http.post(srv.url + "/webhooks/zammad", data=body,
                           headers=zammad_webhook.signed_headers(body, SECRET, "dlv-2"))
        assert replay.status_code == 200 and replay.json()["status"] == "duplicate", replay.text
    assert queue_len(redis_conn) == 1
