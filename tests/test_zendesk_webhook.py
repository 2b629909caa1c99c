"""The pure Zendesk webhook verifier: signatures, timestamps, both payload shapes, field errors."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tiergate.connectors import zendesk_webhook as zw
from tiergate.plugin.core.errors import (DeliveryError, InvalidSignature, MissingSignature, PayloadError,
                                         StaleDelivery)

SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
NOW = datetime(2024, 4, 17, 17, 18, 10, tzinfo=timezone.utc)
TS = "2024-04-17T17:18:10Z"


def signed(body: bytes | dict, ts: str = TS, secret: str = SECRET, **extra: str) -> tuple[dict, bytes]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {**zw.signed_headers(raw, secret, ts), **extra}, raw


def event(**over) -> dict:
    payload = {"type": "zen:event-type:ticket.created", "account_id": 1, "id": "evt-1",
               "time": "2024-04-17T17:18:09Z", "zendesk_event_version": "2022-11-06",
               "subject": "zen:ticket:35436",
               "detail": {"id": "35436", "status": "NEW", "group_id": "101", "tags": ["a"],
                          "via": {"channel": "web"}},
               "event": {}}
    payload.update(over)
    return payload


def test_sign_matches_an_independent_openssl_computation():
    # printf '%s' '<TS>{"ticket_id":"35436"}' | openssl dgst -sha256 -hmac SECRET -binary | base64
    assert zw.sign(b'{"ticket_id":"35436"}', SECRET, TS) == "urEESqPZkV0Ax/YXkK/ewKcAQh7HKECkdn33WHgibug="


def test_trigger_payload_accepted_with_string_or_int_id():
    for value in ("35436", 35436):
        headers, body = signed({"ticket_id": value})
        d = zw.verify(headers, body, SECRET, NOW)
        assert (d.ticket_id, d.event_type, d.helpdesk) == (35436, "trigger", "zendesk")
        assert d.delivery_id.startswith("sha256-") and d.received_at == NOW


def test_trigger_delivery_id_prefers_invocation_header_and_hash_depends_on_timestamp():
    headers, body = signed({"ticket_id": "7"}, **{"X-Zendesk-Webhook-Invocation-Id": "inv-42"})
    assert zw.verify(headers, body, SECRET, NOW).delivery_id == "inv-42"
    h1, b1 = signed({"ticket_id": "7"})
    h2, b2 = signed({"ticket_id": "7"}, ts="2024-04-17T17:18:11Z")
    first, again, later = (zw.verify(h1, b1, SECRET, NOW), zw.verify(h1, b1, SECRET, NOW),
                           zw.verify(h2, b2, SECRET, NOW))
    assert first.delivery_id == again.delivery_id != later.delivery_id


def test_event_payload_accepted_and_delivery_id_is_the_event_id():
    headers, body = signed(event())
    d = zw.verify(headers, body, SECRET, NOW)
    assert (d.delivery_id, d.ticket_id, d.event_type) == ("evt-1", 35436, "zen:event-type:ticket.created")
    assert d.detail["group_id"] == "101"


def test_headers_are_case_insensitive():
    headers, body = signed({"ticket_id": "1"})
    lowered = {k.lower(): v for k, v in headers.items()}
    assert zw.verify(lowered, body, SECRET, NOW).ticket_id == 1


@pytest.mark.parametrize("drop", [zw.SIGNATURE_HEADER, zw.TIMESTAMP_HEADER])
def test_missing_header_is_missing_signature(drop):
    headers, body = signed({"ticket_id": "1"})
    del headers[drop]
    with pytest.raises(MissingSignature) as exc:
        zw.verify(headers, body, SECRET, NOW)
    assert exc.value.status == 401


def test_wrong_secret_tampered_body_and_hex_signature_are_rejected():
    headers, body = signed({"ticket_id": "1"}, secret="other")
    with pytest.raises(InvalidSignature):
        zw.verify(headers, body, SECRET, NOW)
    headers, body = signed({"ticket_id": "1"})
    with pytest.raises(InvalidSignature):
        zw.verify(headers, body.replace(b"1", b"2"), SECRET, NOW)
    import hashlib
    import hmac
    hexsig = hmac.new(SECRET.encode(), TS.encode() + body, hashlib.sha256).hexdigest()
    with pytest.raises(InvalidSignature):
        zw.verify({**headers, zw.SIGNATURE_HEADER: hexsig}, body, SECRET, NOW)


def test_bad_signature_wins_over_bad_payload():
    headers, _ = signed(b"{not json")
    with pytest.raises(InvalidSignature):
        zw.verify(headers, b"{other", SECRET, NOW)


@pytest.mark.parametrize("skew", [-301, 301, 3600])
def test_timestamp_outside_tolerance_is_stale(skew):
    ts = zw.format_timestamp(NOW + timedelta(seconds=skew))
    headers, body = signed({"ticket_id": "1"}, ts=ts)
    with pytest.raises(StaleDelivery) as exc:
        zw.verify(headers, body, SECRET, NOW)
    assert exc.value.status == 401


def test_timestamp_inside_tolerance_and_custom_tolerance():
    ts = zw.format_timestamp(NOW - timedelta(seconds=299))
    headers, body = signed({"ticket_id": "1"}, ts=ts)
    assert zw.verify(headers, body, SECRET, NOW).ticket_id == 1
    with pytest.raises(StaleDelivery):
        zw.verify(headers, body, SECRET, NOW, tolerance=60)


@pytest.mark.parametrize("ts", ["1713374290", "yesterday", "2024-13-45T00:00:00Z"])
def test_unparseable_timestamp_is_stale(ts):
    headers, body = signed({"ticket_id": "1"}, ts=ts)
    with pytest.raises(StaleDelivery):
        zw.verify(headers, body, SECRET, NOW)


@pytest.mark.parametrize("body, field, words", [
    (b"{not json", "body", "JSON"),
    (b"[1, 2]", "body", "object"),
    (b"\xff\xfe", "body", "JSON"),
    ({"hello": 1}, "ticket_id", "missing"),
    ({"ticket_id": "abc"}, "ticket_id", "positive integer"),
    ({"ticket_id": 0}, "ticket_id", "positive integer"),
    ({"ticket_id": -3}, "ticket_id", "positive integer"),
    ({"ticket_id": True}, "ticket_id", "positive integer"),
    ({"ticket_id": None}, "ticket_id", ""),
    (event(detail={"id": "x1"}), "detail.id", "positive integer"),
    (event(detail={"status": "NEW"}), "detail.id", "Missing"),
    (event(detail="nope"), "detail", ""),
    (event(subject="zen:ticket:99"), "subject", "detail.id"),
    (event(subject="ticket 35436"), "subject", "zen:ticket"),
    (event(type="zen:event-type:user.created"), "type", "unsupported"),
    (event(time="noon"), "time", "ISO-8601"),
    (event(id=""), "id", "empty"),
    ({k: v for k, v in event().items() if k != "id"}, "id", "Missing"),
])
def test_payload_errors_name_the_field(body, field, words):
    headers, raw = signed(body)
    with pytest.raises(PayloadError) as exc:
        zw.verify(headers, raw, SECRET, NOW)
    assert exc.value.field == field
    assert words in exc.value.message
    assert exc.value.status == 400 and isinstance(exc.value, DeliveryError)
