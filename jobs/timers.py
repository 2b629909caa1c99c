"""SLA and time-trigger timers as RQ scheduled jobs, plus the sweep that catches lost ones.

``schedule(conn, settings, helpdesk, ticket_id, timers)`` keeps exactly one scheduled job per
ticket + timer (kind, name, stage): an unchanged instant costs one HGETALL, a moved instant
replaces the old job, a timer that is no longer planned is cancelled. The plan of each ticket is
indexed in Redis (hash ``tg:timers:<helpdesk>:<ticket>``: ``<kind>:<name>:<stage>`` -> instant in
µs since the epoch, plus ``_planned`` = when the plan was made).

RQ stores whole seconds (floored), so jobs are scheduled at the next whole second after the
instant; ``jobs.timer_jobs.timer_due`` still checks the time itself (clock skew, early runs): a little early it
sleeps the rest, more than ``EARLY_SLEEP_MAX`` early it re-schedules itself. A timer whose
instant is no longer the planned one is stale and does nothing; otherwise it only wakes the
decision up: ``tiergate.jobs.process.process_ticket`` re-fetches, re-decides and re-plans.

``sweep`` walks the helpdesk's unsolved tickets and enqueues a decision for each ticket whose plan
is missing, overdue, older than its last change, or whose jobs vanished (lost keys, restarts).
``start_sweeps`` starts a self-rescheduling chain of ``jobs.timer_jobs.sweep_job`` runs (one per slot); each run is
the incremental sweep of ``jobs/sweep.py`` (``full`` in its payload: this full walk).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from redis import Redis
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from tiergate.runtime import keys
from tiergate.jobs.queues import abandon_retry, queue
from tiergate.plugin.core.model import Timer
from tiergate.runtime.config import Settings

log = logging.getLogger("tiergate.jobs.timers")

TIMER_FUNC = "tiergate.jobs.timer_jobs.timer_due"
SWEEP_FUNC = "tiergate.jobs.timer_jobs.sweep_job"
PROCESS_JOB_FUNC = "tiergate.jobs.process.process_ticket_job"
EARLY_SLEEP_MAX = 2.0            # seconds a due job may sleep instead of re-scheduling
OVERDUE_GRACE_US = 90 * 1_000_000
CHANGED_GRACE = timedelta(seconds=5)
INDEX_TTL = 24 * 3600            # kept this long after the last planned instant
DEFAULT_SWEEP_INTERVAL = 300
SWEEP_STATUSES = ("new", "open", "pending", "hold")
LAG_KEEP = 20_000
PLANNED = "_planned"
_WAITING = {b"queued", b"scheduled", b"deferred", b"started"}



def timer_key(timer: Timer) -> str:
    return f"{timer.kind}:{timer.name}:{timer.stage}"


def _safe(text: str) -> str:
    """RQ 3 job ids allow only letters, digits, ``_`` and ``-``."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", text)
    if clean == text:
        return text
    return f"{clean[:60]}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def timer_job_id(helpdesk: str, ticket_id: int, key: str, at_us: int) -> str:
    """One job id per ticket + timer key + instant (a moved instant is a new job)."""
    return f"tg-timer-{_safe(helpdesk)}-{ticket_id}-{_safe(key)}-{at_us}"


def _us(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


def _now_us() -> int:
    return time.time_ns() // 1000


def _queue(conn: Redis, settings: Settings):
    return queue(conn, settings)


def _run_at(at_us: int) -> datetime:
    """The whole second RQ will store: never before the instant."""
    return datetime.fromtimestamp(math.ceil(at_us / 1_000_000), tz=timezone.utc)


def _cancel(pipe, conn: Redis, queue, job_id: str) -> None:
    pipe.zrem(ScheduledJobRegistry(queue=queue).key, job_id)
    pipe.lrem(queue.key, 0, job_id)
    pipe.delete(Job.key_for(job_id))


def schedule(conn: Redis, settings: Settings, helpdesk: str, ticket_id: int,
             timers: Iterable[Timer], *, now: datetime | None = None) -> dict[str, int]:
    """Make the ticket's scheduled jobs equal ``timers`` (one per kind+name+stage; earliest wins).
    Returns counts: scheduled, kept, cancelled."""
    now_us = _us(now) if now is not None else _now_us()
    wanted: dict[str, tuple[int, Timer]] = {}
    for t in timers:
        key, at_us = timer_key(t), _us(t.at)
        if key not in wanted or at_us < wanted[key][0]:
            wanted[key] = (at_us, t)
    ikey = keys.timer_index(helpdesk, ticket_id)
    existing = {k.decode(): int(v) for k, v in conn.hgetall(ikey).items()}
    existing.pop(PLANNED, None)
    q = _queue(conn, settings)
    pipe = conn.pipeline(transaction=False)
    counts = {"scheduled": 0, "kept": 0, "cancelled": 0}
    for key, old_at in existing.items():
        if key in wanted and wanted[key][0] == old_at:
            continue
        pipe.hdel(ikey, key)
        if old_at > now_us:     # a due job may be running right now: leave it (it is harmless)
            _cancel(pipe, conn, q, timer_job_id(helpdesk, ticket_id, key, old_at))
            counts["cancelled"] += 1
    for key, (at_us, t) in wanted.items():
        if existing.get(key) == at_us:
            counts["kept"] += 1
            continue
        payload = {"helpdesk": helpdesk, "ticket_id": ticket_id, "kind": t.kind, "name": t.name,
                   "stage": t.stage, "at_us": at_us}
        q.enqueue_at(_run_at(at_us), TIMER_FUNC, payload,
                     job_id=timer_job_id(helpdesk, ticket_id, key, at_us),
                     job_timeout=300, result_ttl=3600, failure_ttl=7 * 24 * 3600,
                     description=f"timer {key} ticket {ticket_id}", pipeline=pipe,
                     retry=abandon_retry())
        pipe.hset(ikey, key, at_us)
        counts["scheduled"] += 1
    pipe.hset(ikey, PLANNED, now_us)
    last = max([now_us] + [a for a, _ in wanted.values()])
    pipe.expire(ikey, max(60, (last - now_us) // 1_000_000 + INDEX_TTL))
    pipe.execute()
    return counts


def planned(conn: Redis, helpdesk: str, ticket_id: int) -> dict[str, datetime]:
    """The ticket's planned instants by ``kind:name:stage`` (for logs, tests and the demo)."""
    out = {}
    for k, v in conn.hgetall(keys.timer_index(helpdesk, ticket_id)).items():
        if k.decode() != PLANNED:
            out[k.decode()] = datetime.fromtimestamp(int(v) / 1e6, tz=timezone.utc)
    return out


def lag_samples(conn: Redis) -> list[tuple[float, float]]:
    """Recorded (due -> decision start, due -> decision done) lags in seconds, newest first."""
    return [tuple(json.loads(x)) for x in conn.lrange(keys.TIMER_LAG, 0, -1)]   # type: ignore[misc]


# -- sweep ---------------------------------------------------------------------------------------
def needs_replan(conn: Redis, settings: Settings, helpdesk: str, ticket, now: datetime,
                 *, plan: dict[str, int] | None = None) -> str | None:
    """Why the ticket's plan must be redone (``missing``, ``changed``, ``overdue``, ``lost``) or
    None when it is intact."""
    if plan is None:
        plan = {k.decode(): int(v) for k, v in conn.hgetall(keys.timer_index(helpdesk, ticket.id)).items()}
    if PLANNED not in plan:
        return "missing"
    planned_at = plan.pop(PLANNED)
    if ticket.updated_at is not None and _us(ticket.updated_at - CHANGED_GRACE) > planned_at:
        return "changed"
    now_us = _us(now)
    if any(at < now_us - OVERDUE_GRACE_US for at in plan.values()):
        return "overdue"
    if plan:
        q = _queue(conn, settings)
        reg = ScheduledJobRegistry(queue=q).key
        pipe = conn.pipeline(transaction=False)
        for key, at in plan.items():
            pipe.zscore(reg, timer_job_id(helpdesk, ticket.id, key, at))
        if any(score is None for score, at in zip(pipe.execute(), plan.values()) if at > now_us):
            return "lost"
    return None


def sweep(conn: Redis, settings: Settings, connector, now: datetime, *, full: bool = False,
          statuses: Iterable[str] = SWEEP_STATUSES) -> dict[str, Any]:
    """Enqueue a decision for every unsolved ticket whose plan needs redoing (all with ``full``)."""
    helpdesk = getattr(connector, "name", settings.helpdesk)
    q = _queue(conn, settings)
    slot = int(now.timestamp())
    seen, enqueued = 0, 0
    reasons: dict[str, int] = {}
    for ticket in connector.iter_tickets(status=list(statuses)):
        seen += 1
        why = "full" if full else needs_replan(conn, settings, helpdesk, ticket, now)
        if why is None:
            continue
        job_id = f"tg-sweep-{_safe(helpdesk)}-{ticket.id}"
        if conn.hget(Job.key_for(job_id), "status") in _WAITING:
            continue                      # the previous sweep's decision has not run yet
        reasons[why] = reasons.get(why, 0) + 1
        q.enqueue(PROCESS_JOB_FUNC, {"helpdesk": helpdesk, "ticket_id": ticket.id,
                                     "reason": f"sweep:{why}", "delivery_id": f"sweep:{slot}"},
                  job_id=job_id, job_timeout=120, result_ttl=600, failure_ttl=24 * 3600,
                  description=f"sweep ({why}) ticket {ticket.id}")
        enqueued += 1
    log.info("sweep helpdesk=%s seen=%d enqueued=%d reasons=%s", helpdesk, seen, enqueued, reasons)
    return {"seen": seen, "enqueued": enqueued, "reasons": reasons}


def start_sweeps(conn: Redis, settings: Settings, interval: int | None = None,
                 *, now: datetime | None = None) -> str:
    """Make sure a sweep is scheduled for the next slot (idempotent: one job per slot)."""
    interval = int(interval or settings.extra.get("sweep_interval", DEFAULT_SWEEP_INTERVAL))
    now_s = (now or datetime.now(timezone.utc)).timestamp()
    slot = (int(now_s) // interval + 1) * interval
    job_id = f"tg-sweeper-{_safe(settings.queue_name)}-{slot}"
    if not conn.exists(Job.key_for(job_id)):
        _queue(conn, settings).enqueue_at(
            datetime.fromtimestamp(slot, tz=timezone.utc), SWEEP_FUNC, {"interval": interval},
            job_id=job_id, job_timeout=3600, result_ttl=interval * 2, description="sla sweep")
    return job_id


__all__ = ["schedule", "planned", "sweep", "start_sweeps",
           "needs_replan", "lag_samples", "timer_key", "timer_job_id"]
