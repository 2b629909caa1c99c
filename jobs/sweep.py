"""The incremental SLA/timer sweep: each cycle reads only what changed since the last one.

State in Redis, per helpdesk:
- ``tg:sweep:cursor:<helpdesk>``: the incremental export's ``start_time`` for the next cycle
  (its ``end_time``, held at least ``LAG`` seconds in the past so the next request is accepted);
- ``tg:sweep:open:<helpdesk>``: hash ticket id -> ``updated_at`` (µs) of every unsolved ticket
  the export has shown.

A cycle (``incremental_sweep``) costs one export call per 1,000 changed tickets (plus one), and
nothing per unchanged ticket: the export rows update the open-ticket hash (a solved ticket leaves
it), then every open ticket's timer plan is checked against stored state only (the plan index of
``jobs/timers.py``, the scheduled-job registry, the stored ``updated_at``), with pipelined Redis
reads. A ticket whose plan is missing, older than its last change, overdue or lost gets one
decision job (a delivery-shaped job, so workers decide such tickets in batches: about one read
call per ticket, see ``jobs/pool.py``); the due timers of the others are already scheduled jobs.
The first cycle (no cursor) reads the whole export once. Desks without the export fall back to
``timers.sweep``.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Iterable

from redis import Redis
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from tiergate.connectors.base import Delivery
from tiergate.jobs import timers
from tiergate.runtime import keys
from tiergate.jobs.process import process_delivery
from tiergate.jobs.queues import JOB_TIMEOUT, abandon_retry, queue
from tiergate.plugin.core.model import parse_time
from tiergate.runtime.config import Settings

log = logging.getLogger("tiergate.jobs.timers")

LAG = 60                 # seconds: the export's start_time stays this far in the past
PIPE_CHUNK = 1000
_WAITING = {b"queued", b"scheduled", b"deferred", b"started"}




def supports(connector: Any) -> bool:
    return getattr(connector, "name", "") == "zendesk" and callable(getattr(connector, "_send", None))


def _export(connector: Any, start: int) -> tuple[dict[int, dict], int, int, bool]:
    """Rows changed since ``start`` (latest per ticket), the next start, calls spent, complete?"""
    rows: dict[int, dict] = {}
    calls = 0
    while True:
        calls += 1
        with connector._calls("incremental ticket export"):
            page = connector._send("get", "incremental/tickets.json", params={"start_time": start})
        for raw in page.get("tickets") or ():
            rows[int(raw["id"])] = raw
        end = int(page.get("end_time") or start)
        if page.get("end_of_stream", True):
            return rows, max(start, end), calls, True
        if end <= start:      # more than one page of tickets within one second: cannot go on
            log.warning("incremental export stuck at start_time=%s", start)
            return rows, start, calls, False
        start = end


def _plans(conn: Redis, helpdesk: str, ids: list[int]) -> list[dict[str, int]]:
    out: list[dict[str, int]] = []
    for at in range(0, len(ids), PIPE_CHUNK):
        pipe = conn.pipeline(transaction=False)
        for tid in ids[at:at + PIPE_CHUNK]:
            pipe.hgetall(keys.timer_index(helpdesk, tid))
        out.extend({k.decode(): int(v) for k, v in plan.items()} for plan in pipe.execute())
    return out


def stale_plans(conn: Redis, settings: Settings, helpdesk: str, updated: dict[int, int],
                now: datetime) -> dict[int, str]:
    """Why each open ticket's plan must be redone (``timers.needs_replan``'s reasons), from
    stored state only; tickets with an intact plan are left out."""
    ids = sorted(updated)
    now_us = timers._us(now)
    grace = int(timers.CHANGED_GRACE.total_seconds() * 1_000_000)
    why: dict[int, str] = {}
    future: list[tuple[int, str, int]] = []
    for tid, plan in zip(ids, _plans(conn, helpdesk, ids)):
        if timers.PLANNED not in plan:
            why[tid] = "missing"
            continue
        planned_at = plan.pop(timers.PLANNED)
        if updated[tid] - grace > planned_at:
            why[tid] = "changed"
        elif any(at < now_us - timers.OVERDUE_GRACE_US for at in plan.values()):
            why[tid] = "overdue"
        else:
            future.extend((tid, key, at) for key, at in plan.items() if at > now_us)
    if future:
        reg = ScheduledJobRegistry(queue=queue(conn, settings)).key
        for at in range(0, len(future), PIPE_CHUNK):
            part = future[at:at + PIPE_CHUNK]
            pipe = conn.pipeline(transaction=False)
            for tid, key, when in part:
                pipe.zscore(reg, timers.timer_job_id(helpdesk, tid, key, when))
            for (tid, _k, _w), score in zip(part, pipe.execute()):
                if score is None:
                    why.setdefault(tid, "lost")
    return why


def _enqueue(conn: Redis, settings: Settings, helpdesk: str, why: dict[int, str], now: datetime) -> int:
    """One delivery-shaped decision job per ticket (none while the previous one still waits)."""
    q = queue(conn, settings)
    ids = sorted(why)
    slot = int(now.timestamp())
    enqueued = 0
    for at in range(0, len(ids), PIPE_CHUNK):
        part = ids[at:at + PIPE_CHUNK]
        pipe = conn.pipeline(transaction=False)
        for tid in part:
            pipe.hget(Job.key_for(f"tg-sweep-{timers._safe(helpdesk)}-{tid}"), "status")
        waiting = pipe.execute()
        pipe = conn.pipeline(transaction=False)
        for tid, status in zip(part, waiting):
            if status in _WAITING:
                continue
            d = Delivery(delivery_id=f"sweep:{slot}:{tid}", ticket_id=tid, event_type=f"sweep:{why[tid]}",
                         helpdesk=helpdesk, received_at=now)
            q.enqueue(process_delivery, d.to_dict(), job_id=f"tg-sweep-{timers._safe(helpdesk)}-{tid}",
                      job_timeout=JOB_TIMEOUT, result_ttl=600, failure_ttl=24 * 3600, retry=abandon_retry(),
                      description=f"process {helpdesk} ticket {tid} (sweep: {why[tid]})", pipeline=pipe)
            enqueued += 1
        pipe.execute()
    return enqueued


def incremental_sweep(conn: Redis, settings: Settings, connector: Any, now: datetime,
                      *, statuses: Iterable[str] = timers.SWEEP_STATUSES) -> dict[str, Any]:
    """One cycle. Returns seen (export rows), open, calls, enqueued, reasons."""
    helpdesk = getattr(connector, "name", settings.helpdesk)
    if not supports(connector):
        return timers.sweep(conn, settings, connector, now, statuses=statuses)
    wanted = set(statuses)
    raw_cursor = conn.get(keys.sweep_cursor(helpdesk))
    start = int(raw_cursor) if raw_cursor else 0
    rows, end, calls, complete = _export(connector, start)
    okey = keys.sweep_open(helpdesk)
    pipe = conn.pipeline(transaction=False)
    for tid, raw in rows.items():
        at = parse_time(raw.get("updated_at"))
        if raw.get("status") in wanted and at is not None:
            pipe.hset(okey, tid, timers._us(at))
        else:
            pipe.hdel(okey, tid)
    pipe.execute()
    updated = {int(k): int(v) for k, v in conn.hgetall(okey).items()}
    why = stale_plans(conn, settings, helpdesk, updated, now)
    enqueued = _enqueue(conn, settings, helpdesk, why, now)
    if complete or end > start:
        conn.set(keys.sweep_cursor(helpdesk), max(start, min(end, int(now.timestamp()) - LAG)))
    reasons: dict[str, int] = {}
    for w in why.values():
        reasons[w] = reasons.get(w, 0) + 1
    log.info("incremental sweep helpdesk=%s changed=%d open=%d calls=%d enqueued=%d reasons=%s",
             helpdesk, len(rows), len(updated), calls, enqueued, reasons)
    return {"seen": len(rows), "open": len(updated), "calls": calls, "enqueued": enqueued,
            "reasons": reasons, "cursor": end}


def reset(conn: Redis, helpdesk: str) -> None:
    """Forget the cursor and the open-ticket hash: the next cycle reads the whole export."""
    conn.delete(keys.sweep_cursor(helpdesk), keys.sweep_open(helpdesk))


__all__ = ["incremental_sweep", "stale_plans", "reset"]
