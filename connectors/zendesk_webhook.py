"""Zendesk webhook signatures and payloads, sans I/O (in the style of gidgethub's ``sansio``).

``sign`` computes what Zendesk puts in ``X-Zendesk-Webhook-Signature``: base64(HMAC-SHA256(key =
signing secret, msg = timestamp + raw body)). ``verify`` checks a delivery and parses it into a
``Delivery``; it reads no clock (pass ``now``) and raises only ``DeliveryError`` subclasses, in this
order: missing headers → ``MissingSignature``; wrong signature → ``InvalidSignature``; timestamp
unparseable or outside ``±tolerance`` seconds of ``now`` → ``StaleDelivery``; body not JSON or not
one of the two payload shapes → ``PayloadError`` naming the JSON path.

Two payload shapes are accepted:
- event-subscribed webhooks: ``{"type": "zen:event-type:ticket.created", "id": "<event id>",
  "subject": "zen:ticket:35436", "time": "...", "detail": {"id": "35436", ...}, ...}``
  (ids in ``detail`` are strings); the delivery id is the event ``id``.
- trigger/automation webhooks whose body template holds ``"ticket_id": "{{ticket.id}}"`` (string
  or integer; other keys are kept in ``detail``); the delivery id is the
  ``X-Zendesk-Webhook-Invocation-Id`` header when present, else ``sha256-`` + hex digest of
  timestamp + body (a retried identical delivery dedupes, the next event on the same ticket
  does not). A trigger payload that also carries
  ``"tiergate_event": "solved" | "reopened" | "satisfaction"`` (the outcome triggers ``tiergate
  install`` adds) becomes a delivery of event type ``outcome:<kind>`` (``outcome_events``).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
from datetime import datetime, timezone
from typing import Any, Mapping

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from tiergate.connectors import outcome_events
from tiergate.connectors.payloads import TicketId, header, json_object, load
from tiergate.connectors.base import PING_EVENT, Delivery
from tiergate.plugin.core.errors import InvalidSignature, MissingSignature, PayloadError, StaleDelivery

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
WEBHOOK_ID_HEADER = "X-Zendesk-Webhook-Id"
INVOCATION_ID_HEADER = "X-Zendesk-Webhook-Invocation-Id"
HELPDESK = "zendesk"
TRIGGER_EVENT = "trigger"
_SUBJECT = re.compile(r"^zen:ticket:(\d+)$")


@functools.lru_cache(maxsize=16)
def _keyed(secret: str) -> "hmac.HMAC":
    """An HMAC-SHA256 keyed with ``secret`` and fed nothing yet: copied per signature, so the key
    schedule is computed once per secret."""
    return hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)


def _digest(body: bytes, secret: str, timestamp: str) -> bytes:
    mac = _keyed(secret).copy()
    mac.update(timestamp.encode("utf-8"))
    mac.update(body)
    return mac.digest()


def sign(body: bytes, secret: str, timestamp: str) -> str:
    """The ``X-Zendesk-Webhook-Signature`` value for ``body`` sent at ``timestamp``."""
    return base64.b64encode(_digest(body, secret, timestamp)).decode("ascii")


def signed_headers(body: bytes, secret: str, timestamp: str) -> dict[str, str]:
    """The two signature headers Zendesk sends (for test clients and the local server)."""
    return {SIGNATURE_HEADER: sign(body, secret, timestamp), TIMESTAMP_HEADER: timestamp}


def format_timestamp(at: datetime) -> str:
    """Zendesk's signature timestamp shape: ``2024-04-17T17:18:10Z``."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_instant(value: str) -> datetime:
    text = value.strip()
    if not text or not text[0].isdigit():
        raise ValueError("not an ISO-8601 instant")
    dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


# -- schemas ------------------------------------------------------------------------------------
class Instant(fields.String):
    default_error_messages = {"instant": "must be an ISO-8601 instant like 2024-04-17T17:18:10Z"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            _parse_instant(text)
        except ValueError:
            raise self.make_error("instant") from None
        return text


class EventDetailSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = TicketId(required=True)
    tags = fields.List(fields.String(), allow_none=True)


class TicketEventSchema(Schema):
    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)
    id = fields.String(required=True)
    subject = fields.String(required=True)
    time = Instant(required=True)
    detail = fields.Nested(EventDetailSchema, required=True)
    account_id = fields.Integer(allow_none=True)
    zendesk_event_version = fields.String(allow_none=True)
    event = fields.Dict(allow_none=True)

    @validates_schema
    def _check(self, data: dict, **kwargs: Any) -> None:
        if not data["type"].startswith("zen:event-type:ticket."):
            raise ValidationError("unsupported event type: only zen:event-type:ticket.* events are handled",
                                  "type")
        if not data["id"].strip():
            raise ValidationError("must not be empty", "id")
        match = _SUBJECT.match(data["subject"])
        if not match:
            raise ValidationError("must look like zen:ticket:<id>", "subject")
        if int(match.group(1)) != data["detail"]["id"]:
            raise ValidationError("ticket id differs from detail.id", "subject")


class TriggerPayloadSchema(Schema):
    class Meta:
        unknown = INCLUDE

    ticket_id = TicketId(required=True)
    tiergate_event = fields.String(validate=validate.OneOf(outcome_events.OUTCOME_KINDS))


_EVENT_SCHEMA = TicketEventSchema()
_TRIGGER_SCHEMA = TriggerPayloadSchema()


_EVENT_PREFIX = "zen:event-type:ticket."
_EVENT_OPTIONAL = ("account_id", "zendesk_event_version", "event")
_MISSING = object()


def _plain_ticket_id(value: Any) -> int | None:
    """``TicketId``'s reading of a valid id, None when it would refuse it."""
    if type(value) is int:
        return value if value > 0 else None
    if type(value) is str:
        text = value.strip()
        if text.isascii() and text.isdigit() and int(text) > 0:
            return int(text)
    return None


def _plain_event(payload: dict) -> dict | None:
    """What ``_EVENT_SCHEMA.load(payload)`` returns, for the plain, valid shape Zendesk sends
    (every field of its exact JSON type); None when anything is unusual, and marshmallow decides
    (with its error messages). Declared fields come first, then the others as given."""
    kind, event_id, subject, sent, detail = (payload.get(k) for k in ("type", "id", "subject", "time", "detail"))
    if not (type(kind) is str and kind.startswith(_EVENT_PREFIX) and type(event_id) is str and event_id.strip()
            and type(subject) is str and type(sent) is str and type(detail) is dict):
        return None
    try:
        _parse_instant(sent)
    except ValueError:
        return None
    ticket_id = _plain_ticket_id(detail.get("id"))
    match = _SUBJECT.match(subject)
    if ticket_id is None or not match or int(match.group(1)) != ticket_id:
        return None
    tags = detail.get("tags", _MISSING)
    if tags is not _MISSING and tags is not None:
        if type(tags) is not list or any(type(tag) is not str for tag in tags):
            return None
        tags = list(tags)
    out: dict = {"type": kind, "id": event_id, "subject": subject, "time": sent}
    loaded_detail: dict = {"id": ticket_id}
    if tags is not _MISSING:
        loaded_detail["tags"] = tags
    for key, value in detail.items():
        if key not in ("id", "tags"):
            loaded_detail[key] = value
    out["detail"] = loaded_detail
    account, version, event = (payload.get(k, _MISSING) for k in _EVENT_OPTIONAL)
    if not (account is _MISSING or account is None or type(account) is int):
        return None
    if not (version is _MISSING or version is None or type(version) is str):
        return None
    if not (event is _MISSING or event is None or type(event) is dict):
        return None
    for key, value in zip(_EVENT_OPTIONAL, (account, version, event)):
        if value is not _MISSING:
            out[key] = dict(value) if type(value) is dict else value
    for key, value in payload.items():
        if key not in out:
            out[key] = value
    return out


def parse_payload(body: bytes) -> tuple[str, int, dict]:
    """Raw body -> (kind, ticket_id, data); kind is ``event``, ``trigger`` or ``ping`` (the
    installer's signed test delivery ``{"tiergate_test": true}``, ticket id 0). Raises PayloadError."""
    payload = json_object(body)
    if payload.get("tiergate_test") is True:
        return PING_EVENT, 0, payload
    if "type" in payload or "detail" in payload:
        data = _plain_event(payload) or load(_EVENT_SCHEMA, payload)
        return "event", data["detail"]["id"], data
    if "ticket_id" in payload:
        data = load(_TRIGGER_SCHEMA, payload)
        return "trigger", data["ticket_id"], data
    raise PayloadError("ticket_id", "missing: expected an event payload (type, id, subject, detail) "
                                    "or a trigger payload ({\"ticket_id\": ...})")


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: datetime,
           tolerance: float = 300) -> Delivery:
    """Check signature and timestamp, parse the payload; raise a ``DeliveryError`` otherwise."""
    signature = header(headers, SIGNATURE_HEADER)
    timestamp = header(headers, TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise MissingSignature(f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are required")
    expected = sign(body, secret, timestamp)
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8", "replace")):
        raise InvalidSignature("signature does not match the body and timestamp")
    try:
        sent_at = _parse_instant(timestamp)
    except ValueError:
        raise StaleDelivery(f"{TIMESTAMP_HEADER}: not an ISO-8601 instant") from None
    skew = abs((now - sent_at).total_seconds())
    if skew > tolerance:
        raise StaleDelivery(f"{TIMESTAMP_HEADER}: {skew:.0f}s away from now (tolerance {tolerance:g}s)")

    kind, ticket_id, data = parse_payload(body)
    if kind == PING_EVENT:
        return Delivery(delivery_id="ping-" + hashlib.sha256(timestamp.encode("utf-8") + body).hexdigest(),
                        ticket_id=0, event_type=PING_EVENT, helpdesk=HELPDESK, received_at=now)
    if kind == "event":
        return Delivery(delivery_id=data["id"], ticket_id=ticket_id, event_type=data["type"],
                        helpdesk=HELPDESK, received_at=now, detail=json.loads(json.dumps(data["detail"])))
    invocation = header(headers, INVOCATION_ID_HEADER)
    delivery_id = invocation.strip() if invocation and invocation.strip() else \
        "sha256-" + hashlib.sha256(timestamp.encode("utf-8") + body).hexdigest()
    kind = data.get(outcome_events.PAYLOAD_FIELD)
    return Delivery(delivery_id=delivery_id, ticket_id=ticket_id,
                    event_type=outcome_events.event_type(kind) if kind else TRIGGER_EVENT,
                    helpdesk=HELPDESK, received_at=now, detail=json.loads(json.dumps(data)))
