"""Zammad webhook signatures and payloads, sans I/O.

Zammad signs a webhook only when the webhook object has a "HMAC SHA1 Signature Token":
``X-Hub-Signature: sha1=<hex HMAC-SHA1(key = token, msg = raw body)>`` (the WebSub / GitHub shape).
Each delivery carries a random ``X-Zammad-Delivery`` id (kept across Zammad's own retries) and the
originating trigger's name in ``X-Zammad-Trigger``. There is no signed timestamp, so replay
protection rests on deduplicating the delivery id (the receiver does that in Redis).

``verify`` reads no clock (``now`` only stamps ``received_at``) and raises only ``DeliveryError``
subclasses: missing header → ``MissingSignature``; wrong or malformed signature →
``InvalidSignature``; body not JSON or not the payload shape → ``PayloadError`` naming the field.

Payloads accepted: Zammad's default ``{"ticket": {"id": 12, ...}, "article": {...}}`` (``article``
optional, may be ``{}``), or a custom payload ``{"ticket_id": "12"}``. A delivery from one of the
outcome triggers (``zammad_triggers.outcome_triggers``, named in ``X-Zammad-Trigger``) has event type
``outcome:<kind>``; the header is not signed, so it only routes the delivery: the outcome job
re-fetches the ticket and trusts nothing else.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Mapping

from marshmallow import INCLUDE, Schema, fields

from tiergate.connectors import outcome_events
from tiergate.connectors.payloads import TicketId, header, json_object, load
from tiergate.connectors.zammad_triggers import outcome_of_trigger
from tiergate.connectors.base import Delivery
from tiergate.plugin.core.errors import InvalidSignature, MissingSignature, PayloadError

SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Zammad-Delivery"
TRIGGER_HEADER = "X-Zammad-Trigger"
USER_AGENT = "Zammad User Agent"
HELPDESK = "zammad"
EVENT_TYPE = "zammad:trigger"


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature`` value for ``body``: ``sha1=<hex digest>``."""
    return "sha1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def signed_headers(body: bytes, secret: str, delivery_id: str, trigger: str = "tiergate") -> dict[str, str]:
    """The headers Zammad sends with a signed delivery (for test clients and the local server)."""
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT, TRIGGER_HEADER: trigger,
            DELIVERY_HEADER: delivery_id, SIGNATURE_HEADER: sign(body, secret)}


# -- schemas ------------------------------------------------------------------------------------
class TicketSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = TicketId(required=True)
    updated_at = fields.String(allow_none=True)
    group_id = fields.Integer(allow_none=True)


class ArticleSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = TicketId()
    ticket_id = TicketId()
    sender = fields.String(allow_none=True)
    internal = fields.Boolean(allow_none=True)
    type = fields.String(allow_none=True)


class DefaultPayloadSchema(Schema):
    class Meta:
        unknown = INCLUDE

    ticket = fields.Nested(TicketSchema, required=True)
    article = fields.Nested(ArticleSchema, allow_none=True)


class CustomPayloadSchema(Schema):
    class Meta:
        unknown = INCLUDE

    ticket_id = TicketId(required=True)


def parse_payload(body: bytes) -> tuple[int, dict]:
    """Raw body -> (ticket_id, hints). Raises ``PayloadError`` naming the field."""
    payload = json_object(body)
    if "ticket" in payload:
        data = load(DefaultPayloadSchema(), payload)
        ticket, article = data["ticket"], data.get("article") or {}
        hints = {"ticket_id": ticket["id"], "updated_at": ticket.get("updated_at"),
                 "group_id": ticket.get("group_id")}
        if article:
            hints["article"] = {k: article.get(k) for k in ("id", "sender", "internal", "type")
                                if k in article}
        return ticket["id"], hints
    if "ticket_id" in payload:
        data = load(CustomPayloadSchema(), payload)
        return data["ticket_id"], {"ticket_id": data["ticket_id"]}
    raise PayloadError("ticket", "missing: expected Zammad's default payload {\"ticket\": {\"id\": ...}, "
                                 "\"article\": {...}} or a custom payload {\"ticket_id\": ...}")


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: datetime,
           tolerance: float | None = None) -> Delivery:
    """Check ``X-Hub-Signature`` against ``body`` and parse it; raise a ``DeliveryError`` otherwise.
    ``tolerance`` is accepted for the receiver's common call shape and ignored: Zammad signs no
    timestamp, so replays are stopped by deduplicating ``X-Zammad-Delivery``."""
    signature = header(headers, SIGNATURE_HEADER)
    if not signature or not signature.strip():
        raise MissingSignature(f"{SIGNATURE_HEADER} header is required (set the webhook's HMAC SHA1 "
                               "Signature Token in Zammad)")
    signature = signature.strip()
    if not signature.lower().startswith("sha1="):
        raise InvalidSignature(f"{SIGNATURE_HEADER}: must look like sha1=<hex digest>")
    expected = sign(body, secret)
    if not hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("utf-8", "replace")):
        raise InvalidSignature("signature does not match the body")
    ticket_id, hints = parse_payload(body)
    delivery = (header(headers, DELIVERY_HEADER) or "").strip()
    delivery_id = delivery if delivery else "sha1-" + hashlib.sha1(body).hexdigest()
    trigger = (header(headers, TRIGGER_HEADER) or "").strip()
    if trigger:
        hints["trigger"] = trigger
    kind = outcome_of_trigger(trigger)
    return Delivery(delivery_id=delivery_id, ticket_id=ticket_id,
                    event_type=outcome_events.event_type(kind) if kind else EVENT_TYPE,
                    helpdesk=HELPDESK, received_at=now, detail=json.loads(json.dumps(hints)))
