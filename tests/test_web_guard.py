"""Non-ASCII digit ticket ids refused naming the field, ``/metrics`` behind a bearer token, and
server errors in the JSON error shape (real HTTP under waitress, real Redis)."""
from __future__ import annotations

import json

import pytest
import requests

from test_web_support import SECRET, event_body, live, queue_len, signed
from tiergate.connectors import zammad_webhook
from tiergate.plugin.embedded import free_port
from tiergate.plugin.web import create_app


def _json_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["error"] == error and body["message"], body
    return body


@pytest.mark.parametrize("ticket_id", ["١٢٣", "１２", "٣", "12３"])
def test_non_ascii_digit_ticket_ids_are_refused_naming_the_field(redis_conn, redis_url, ticket_id):
    app = create_app({"redis_url": redis_url, "webhook_secret": SECRET, "HELPDESKS": ("zendesk", "zammad")})
    with live(app) as srv, requests.Session() as http:
        raw, headers = signed({"ticket_id": ticket_id})
        body = _json_error(http.post(srv.url + "/webhooks/zendesk", data=raw, headers=headers), 400, "bad_payload")
        assert body["field"] == "ticket_id" and "ASCII digits" in body["message"], body
        event = event_body()
        event["detail"]["id"] = ticket_id
        raw, headers = signed(event)
        body = _json_error(http.post(srv.url + "/webhooks/zendesk", data=raw, headers=headers), 400, "bad_payload")
        assert body["field"] == "detail.id", body
        zbody = json.dumps({"ticket": {"id": ticket_id}}).encode()
        body = _json_error(http.post(srv.url + "/webhooks/zammad", data=zbody,
                                     headers=zammad_webhook.signed_headers(zbody, SECRET, "d-1")), 400, "bad_payload")
        assert body["field"] == "ticket.id", body
    assert queue_len(redis_conn) == 0


def test_metrics_needs_a_bearer_token(redis_conn, redis_url):
    app = create_app({"redis_url": redis_url, "webhook_secret": SECRET, "metrics_token": "m-token-123",
                      "admin_token": "a-token-456"})
    with live(app) as srv, requests.Session() as http:
        _json_error(http.get(srv.url + "/metrics"), 401, "unauthorized")
        denied = http.get(srv.url + "/metrics", headers={"Authorization": "Bearer wrong"})
        _json_error(denied, 401, "unauthorized")
        assert denied.headers["WWW-Authenticate"].startswith("Bearer")
        for token in ("m-token-123", "a-token-456"):
            ok = http.get(srv.url + "/metrics", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and "tiergate_webhooks_received_total" in ok.text


def test_metrics_without_any_token_configured_is_disabled(redis_conn, redis_url):
    app = create_app({"redis_url": redis_url, "webhook_secret": SECRET})
    with live(app) as srv:
        _json_error(requests.get(srv.url + "/metrics"), 403, "metrics_disabled")


def test_server_errors_are_json_even_from_metrics_with_redis_down():
    app = create_app({"redis_url": f"redis://127.0.0.1:{free_port()}/0", "webhook_secret": SECRET,
                      "metrics_token": "m-token-123", "RETRY_AFTER": 3})
    with live(app) as srv, requests.Session() as http:
        _json_error(http.get(srv.url + "/metrics", headers={"Authorization": "Bearer m-token-123"}), 503, "unavailable")
        health = http.get(srv.url + "/healthz")
        assert health.status_code == 503 and health.headers["Content-Type"].startswith("application/json")
        raw, headers = signed(event_body())
        response = http.post(srv.url + "/webhooks/zendesk", data=raw, headers=headers)
        _json_error(response, 503, "redis_unavailable")
        assert response.headers["Retry-After"] == "3"
