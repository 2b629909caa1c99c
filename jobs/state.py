"""Per-ticket state kept in Redis: fire-once trigger state and the last decision's summary.

Redis holds the truth of the fired state; it is mirrored on the ticket as ``tg_fired_<trigger>``
tags written in the same update as the actions, so a lost Redis key is rebuilt from the ticket.
A re-arm alone does not cost a helpdesk write: the stale mirror tag goes with the next real update.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime
from typing import Any, Iterable

from redis import Redis

from tiergate.runtime import keys
from tiergate.connectors.base import Delivery
from tiergate.plugin.core.model import Ticket, TicketUpdate, parse_time

FIRED_TAG_PREFIX = "tg_fired_"
SUMMARY_TTL = 30 * 24 * 3600
OWN_WRITE_TTL = 24 * 3600


_PRESENT = "\x00"   # member that marks "state known, possibly empty"


def mirrored_state(ticket: Ticket) -> frozenset[str]:
    return frozenset(t[len(FIRED_TAG_PREFIX):] for t in ticket.tags if t.startswith(FIRED_TAG_PREFIX))


def fired_state(conn: Redis, helpdesk: str, ticket: Ticket) -> frozenset[str]:
    """Triggers fired in the current episode: from Redis, or from the mirror tags if Redis lost it."""
    stored = {m.decode() for m in conn.smembers(keys.fired(helpdesk, ticket.id))}
    if _PRESENT in stored:
        return frozenset(stored - {_PRESENT})
    return mirrored_state(ticket)


def save_fired_state(conn: Redis, helpdesk: str, ticket_id: int, fired: Iterable[str]) -> None:
    key = keys.fired(helpdesk, ticket_id)
    pipe = conn.pipeline(transaction=True)
    pipe.delete(key)
    pipe.sadd(key, _PRESENT, *fired)
    pipe.execute()


def only_mirror_cleanup(update: TicketUpdate) -> bool:
    """True when an update would only drop stale ``tg_fired_*`` mirror tags (not worth a write)."""
    rest = replace(update, remove_tags=())
    return rest.is_empty() and all(t.startswith(FIRED_TAG_PREFIX) for t in update.remove_tags)


def save_summary(conn: Redis, helpdesk: str, ticket_id: int, summary: dict[str, Any]) -> None:
    conn.set(keys.last_decision(helpdesk, ticket_id), json.dumps(summary), ex=SUMMARY_TTL)


def load_summary(conn: Redis, helpdesk: str, ticket_id: int) -> dict[str, Any] | None:
    raw = conn.get(keys.last_decision(helpdesk, ticket_id))
    return json.loads(raw) if raw else None


def _digest(group_id: Any, assignee_id: Any, priority: Any, tags: Iterable[str], comments: int) -> str:
    parts = [group_id, assignee_id, priority, sorted(set(tags)), comments]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]


def save_own_write(conn: Redis, helpdesk: str, before: Ticket, update: TicketUpdate, comments_added: int) -> None:
    """Remember the ticket as tiergate's write of ``update`` leaves it: group, assignee,
    priority, tags and number of comments."""
    tags = (set(before.tags) | set(update.add_tags)) - set(update.remove_tags)
    digest = _digest(before.group_id if update.group_id is None else update.group_id,
                     before.assignee_id if update.assignee_id is None else update.assignee_id,
                     update.priority or before.priority, tags, len(before.comments) + comments_added)
    conn.set(keys.own_write(helpdesk, before.id), digest, ex=OWN_WRITE_TTL)


def save_own_stamp(conn: Redis, helpdesk: str, ticket_id: int, stamp: datetime | None) -> None:
    """The ``updated_at`` tiergate's own write gave the ticket (the desk's answer to it)."""
    if stamp is not None:
        conn.set(keys.own_write_stamp(helpdesk, ticket_id), stamp.isoformat(), ex=OWN_WRITE_TTL)


def own_echo(conn: Redis, delivery: Delivery) -> bool:
    """True when the delivery names the ``updated_at`` of tiergate's own last write to its
    ticket (the decision triggers send ``{{ticket.updated_at_with_timestamp}}``): the desk
    answering that write, known without reading the ticket. Any later change has a later stamp."""
    try:
        at = parse_time((delivery.detail or {}).get("updated_at"))
    except (TypeError, ValueError):
        return False                   # not an ISO-8601 instant: read the ticket instead
    if at is None:
        return False
    stored = conn.get(keys.own_write_stamp(delivery.helpdesk, delivery.ticket_id))
    return stored is not None and parse_time(stored.decode()) == at


def only_own_write(conn: Redis, helpdesk: str, fetched: Ticket) -> bool:
    """True when the ticket is exactly as tiergate's own last write left it (nobody commented,
    moved, re-prioritised or re-tagged it since): the delivery that brought it here was raised
    by that write, e.g. by the desk's "group changed" trigger, and deciding again would only
    answer tiergate itself."""
    stored = conn.get(keys.own_write(helpdesk, fetched.id))
    return stored is not None and stored.decode() == _digest(
        fetched.group_id, fetched.assignee_id, fetched.priority, fetched.tags, len(fetched.comments))
