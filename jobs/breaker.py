"""Retries with a horizon of hours, and a per-desk circuit breaker (state in Redis, shared by all
workers).

``backoff(attempt)``: ``min(BACKOFF_CAP, 2 ** attempt)`` seconds times a jitter factor in
[0.5, 1.5], so a ticket whose helpdesk is down is retried at 1, 2, 4, ... s, then every 15 min or
so, never in lock-step with the others. A job keeps being rescheduled while its first failure is
less than ``settings.retry_horizon`` seconds old (``TIERGATE_RETRY_HORIZON``, 6 hours by default);
past it, the job fails with its reason into RQ's failed registry (the dead-letter list:
``tiergate failed list``, ``tiergate failed retry --all``).

Breaker: ``THRESHOLD`` failures of one desk within ``WINDOW`` seconds open it for a cool-down
(15 s, doubling per consecutive trip, at most 300 s); while it is open, jobs for that desk are
rescheduled to after the cool-down without calling the vendor. A success closes it.
Keys: ``tg:breaker:<desk>:fails`` (counter, expires after ``WINDOW``), ``:trips``, ``:open_until``
(epoch seconds).
"""
from __future__ import annotations

import random
import time
from typing import Any

from redis import Redis

from tiergate.runtime import keys

BACKOFF_CAP = 900.0
THRESHOLD = 5
WINDOW = 60
COOLDOWN, COOLDOWN_CAP = 15.0, 300.0


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    return min(BACKOFF_CAP, 2.0 ** max(0, attempt)) * (rng or random).uniform(0.5, 1.5)


def past_horizon(first_failed_at: float | None, horizon: float, now: float | None = None) -> bool:
    return first_failed_at is not None and (now or time.time()) - first_failed_at >= horizon



def open_until(conn: Redis, helpdesk: str, now: float | None = None) -> float | None:
    """Epoch seconds the breaker stays open until, or None when closed."""
    raw = conn.get(keys.breaker(helpdesk, "open_until"))
    if raw is None:
        return None
    until = float(raw)
    return until if until > (now or time.time()) else None


def record_failure(conn: Redis, helpdesk: str, now: float | None = None) -> float | None:
    """Count a vendor failure; returns the new open-until instant when this one tripped it."""
    now = now or time.time()
    fails = conn.incr(keys.breaker(helpdesk, "fails"))
    if fails == 1:              # the window starts with its first failure (EXPIRE NX needs Redis 7)
        conn.expire(keys.breaker(helpdesk, "fails"), WINDOW)
    if fails < THRESHOLD or open_until(conn, helpdesk, now) is not None:
        return None
    trips = conn.incr(keys.breaker(helpdesk, "trips"))
    conn.expire(keys.breaker(helpdesk, "trips"), 24 * 3600)
    until = now + min(COOLDOWN_CAP, COOLDOWN * 2 ** (trips - 1))
    conn.set(keys.breaker(helpdesk, "open_until"), until, ex=int(COOLDOWN_CAP) + WINDOW)
    conn.delete(keys.breaker(helpdesk, "fails"))
    return until


def record_success(conn: Redis, helpdesk: str) -> None:
    if conn.exists(keys.breaker(helpdesk, "trips"), keys.breaker(helpdesk, "fails"), keys.breaker(helpdesk, "open_until")):
        conn.delete(keys.breaker(helpdesk, "trips"), keys.breaker(helpdesk, "fails"), keys.breaker(helpdesk, "open_until"))


def status(conn: Redis, helpdesk: str, now: float | None = None) -> dict[str, Any]:
    until = open_until(conn, helpdesk, now)
    return {"helpdesk": helpdesk, "open": until is not None, "open_until": until,
            "recent_failures": int(conn.get(keys.breaker(helpdesk, "fails")) or 0),
            "trips": int(conn.get(keys.breaker(helpdesk, "trips")) or 0)}
