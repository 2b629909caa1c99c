"""Per-ticket state kept in Redis: fire-once trigger state and the last decision's summary.

The fired state is mirrored on the ticket as ``tg_fired_<trigger>`` tags (written in the same
update as the actions), so a lost Redis key is rebuilt from the ticket itself.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from redis import Redis

from tiergate.plugin.core.model import Ticket

FIRED_TAG_PREFIX = "tg_fired_"
SUMMARY_TTL = 30 * 24 * 3600


def _fired_key(helpdesk: str, ticket_id: int) -> str:
    return f"tg:fired:{helpdesk}:{ticket_id}"


def _summary_key(helpdesk: str, ticket_id: int) -> str:
    return f"tg:last:{helpdesk}:{ticket_id}"


def fired_state(conn: Redis, helpdesk: str, ticket: Ticket) -> frozenset[str]:
    """Triggers fired in the current episode: Redis, united with the ticket's mirror tags."""
    stored = {m.decode() for m in conn.smembers(_fired_key(helpdesk, ticket.id))}
    mirrored = {t[len(FIRED_TAG_PREFIX):] for t in ticket.tags if t.startswith(FIRED_TAG_PREFIX)}
    return frozenset(stored | mirrored)


def save_fired_state(conn: Redis, helpdesk: str, ticket_id: int, fired: Iterable[str]) -> None:
    key = _fired_key(helpdesk, ticket_id)
    names = list(fired)
    pipe = conn.pipeline(transaction=True)
    pipe.delete(key)
    if names:
        pipe.sadd(key, *names)
    pipe.execute()


def save_summary(conn: Redis, helpdesk: str, ticket_id: int, summary: dict[str, Any]) -> None:
    conn.set(_summary_key(helpdesk, ticket_id), json.dumps(summary), ex=SUMMARY_TTL)


def load_summary(conn: Redis, helpdesk: str, ticket_id: int) -> dict[str, Any] | None:
    raw = conn.get(_summary_key(helpdesk, ticket_id))
    return json.loads(raw) if raw else None
