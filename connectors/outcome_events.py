"""Outcome deliveries: the desk telling tiergate that a ticket was solved, reopened or rated.

``tiergate install`` adds triggers that notify the same webhook as the decision triggers, with a
payload (Zendesk) or a trigger name (Zammad) that says the event kind. The verifiers turn such a
delivery into a ``Delivery`` whose ``event_type`` is ``outcome:<kind>``; the receiver queues an
outcome job for it (``jobs/ticket_outcome.py``) instead of a decision. The kind only routes the
delivery: the job re-fetches the ticket and records what the desk shows. Pure: no I/O.
"""
from __future__ import annotations

import json

OUTCOME_KINDS = ("solved", "reopened", "satisfaction")
PAYLOAD_FIELD = "tiergate_event"          # Zendesk trigger payload: {"ticket_id": ..., "tiergate_event": kind}
PREFIX = "outcome:"


def event_type(kind: str) -> str:
    """``Delivery.event_type`` of an outcome delivery of ``kind``."""
    if kind not in OUTCOME_KINDS:
        raise ValueError(f"{PAYLOAD_FIELD}: {kind!r} is not one of {', '.join(OUTCOME_KINDS)}")
    return PREFIX + kind


def outcome_kind(event: str | None) -> str | None:
    """The outcome kind of a delivery's ``event_type``, or None for a delivery to decide on."""
    if event and event.startswith(PREFIX) and event[len(PREFIX):] in OUTCOME_KINDS:
        return event[len(PREFIX):]
    return None


def trigger_body(kind: str) -> str:
    """The Zendesk trigger's webhook body for ``kind`` (the ticket id is a placeholder)."""
    event_type(kind)
    return '{"ticket_id":"{{ticket.id}}","%s":%s}' % (PAYLOAD_FIELD, json.dumps(kind))
