"""Batches of deliveries in one job: few API calls per ticket when the queue has a backlog.

A ``process_delivery`` job that finds other delivery jobs waiting claims up to ``batch_size()``
of them (``TIERGATE_WORKER_BATCH``, default 100; 1 turns batching off) and decides them all
together (``run``):
- one ``fetch_many`` for every ticket (``jobs/bulkfetch.py``: about 1 call per ticket instead of
  4-5), each ticket under its own lock (a locked ticket's delivery is rescheduled, as alone);
- enrich and decide per ticket with ``ticket_decision.decide_ticket``, as ``decide_and_apply`` does;
- one ``update_many`` (+ its job_status) for the writes (``batching.write_batch``: per-item
  ``safe_update`` stamps, tag deltas), then ``followup.after_write`` per written ticket.
A ticket whose bulk write conflicted or failed, and a ticket with parked decisions, is decided
again alone on a fresh fetch (``ticket_decision.decide_and_apply``, which parks it during a burst as
any other write), still in this job. One
ticket's error fails only its own delivery's job. Several deliveries for one ticket cost one
decision (the others finish as ``superseded``).

Claiming is one Lua step: each claimed job id leaves the queue list and is recorded in
``tg:claimed:<owner job id>`` (marked ``started``). Claimed jobs are finished (result stored,
finished registry) or failed like RQ's own. If the owner job dies, its RQ re-run takes over the
recorded claims first; claims of an owner that is neither queued nor started any more go back to
the queue (``rescue``, run by the worker's maintenance).
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from typing import Any

from rq.job import Job
from rq.serializers import JSONSerializer

from tiergate.connectors.base import Delivery
from tiergate.jobs import batching, bulkfetch, followup, state
from tiergate.runtime import keys
from tiergate.jobs.locks import TicketBusy, ticket_lock
from tiergate.jobs.outcome import Outcome
from tiergate.jobs.queues import claim_waiting, queue
from tiergate.jobs.ticket_decision import (BUSY_RETRY_SECONDS, OWN_ECHO_REASON, decide_and_apply,
                                           decide_ticket, own_write_result, parent, utcnow, writes)
from tiergate.plugin.core.errors import ConnectorError, NotFound, RateLimited, Unavailable

log = logging.getLogger("tiergate.jobs")

DEFAULT_BATCH = 100       # show_many and update_many take up to 100 tickets

_CLAIM = """
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) * 2)
local out = {}
for _, id in ipairs(ids) do
  if #out >= tonumber(ARGV[1]) then break end
  local desc = redis.call('HGET', ARGV[2] .. id, 'description')
  if desc and string.sub(desc, 1, 8) == 'process ' then
    if redis.call('LREM', KEYS[1], 1, id) == 1 then
      redis.call('HSET', KEYS[2], id, ARGV[3])
      redis.call('HSET', ARGV[2] .. id, 'status', 'started')
      out[#out + 1] = id
    end
  end
end
if #out > 0 then redis.call('EXPIRE', KEYS[2], 7 * 24 * 3600) end
return out
"""


def batch_size() -> int:
    try:
        return max(1, int(os.environ.get("TIERGATE_WORKER_BATCH", DEFAULT_BATCH)))
    except ValueError:
        return DEFAULT_BATCH



def claim(rt: Any, owner: str, limit: int) -> list[Job]:
    """Take up to ``limit`` waiting delivery jobs off the queue for ``owner``; recorded claims of
    ``owner`` (a re-run after its worker died) come first."""
    conn, q = rt.conn, queue(rt.conn, rt.settings)
    ids = [i.decode() for i in conn.hkeys(keys.claimed(owner))]
    if limit > len(ids) and conn.llen(q.key):
        script = conn.register_script(_CLAIM)
        ids += [i.decode() for i in script(keys=[q.key, keys.claimed(owner)],
                                           args=[limit - len(ids), Job.redis_job_namespace_prefix, time.time()])]
    jobs = [j for j in Job.fetch_many(ids, connection=conn, serializer=JSONSerializer) if j is not None]
    gone = set(ids) - {j.id for j in jobs}
    if gone:
        conn.hdel(keys.claimed(owner), *gone)
    return jobs


def rescue(conn: Any, q: Any) -> int:
    """Claims whose owner job is no longer queued or started go back to the front of the queue."""
    moved = 0
    prefix = keys.claimed("")
    for key in conn.scan_iter(match=prefix + "*", count=500):
        owner = key.decode()[len(prefix):]
        if conn.hget(Job.key_for(owner), "status") in (b"started", b"queued", b"scheduled"):
            continue
        for job_id in conn.hkeys(key):
            pipe = conn.pipeline(transaction=True)
            pipe.hset(Job.key_for(job_id.decode()), "status", "queued")
            pipe.lpush(q.key, job_id)
            pipe.hdel(key, job_id)
            pipe.execute()
            moved += 1
    return moved


def _finish(rt: Any, job: Job, owner: str, result: dict | None, error: str | None) -> None:
    pipe = rt.conn.pipeline()
    if error is None:
        job._result = result
        job._handle_success(job.result_ttl if job.result_ttl is not None else 500, pipeline=pipe,
                            worker_name=f"batch:{owner}")
    else:
        job.set_status("failed", pipeline=pipe)
        job.save(pipeline=pipe, include_meta=False, include_result=False)
        job._handle_failure(error, pipeline=pipe, worker_name=f"batch:{owner}")
    pipe.hdel(keys.claimed(owner), job.id)
    pipe.execute()


def run_delivery(rt: Any, delivery: Delivery, owner: str) -> dict[str, Any] | None:
    """The owner's own delivery processed with the jobs it claims; None when nothing was claimed
    (the caller then processes the delivery alone)."""
    limit = batch_size() - 1
    if limit <= 0:
        return None
    jobs = claim(rt, owner, limit)
    if not jobs:
        return None
    items: list[tuple[Job | None, Delivery]] = [(None, delivery)]
    for job in jobs:
        try:
            d = Delivery.from_dict(job.args[0])
            claim_waiting(rt.conn, d.helpdesk, d.ticket_id, job.id)
            items.append((job, d))
        except Exception as exc:  # noqa: BLE001 - an unreadable job fails alone
            _finish(rt, job, owner, None, f"{type(exc).__name__}: {exc}")
    results = run(rt, [d for _, d in items])
    own: dict[str, Any] | BaseException = {}
    for (job, d), result in zip(items, results):
        if job is None:
            own = result
        elif isinstance(result, BaseException):
            text = "".join(traceback.format_exception_only(type(result), result)).strip()
            _finish(rt, job, owner, None, text)
        else:
            _finish(rt, job, owner, result, None)
    if isinstance(own, BaseException):
        raise own
    return own


def run(rt: Any, deliveries: list[Delivery]) -> list[dict[str, Any] | BaseException]:
    """One result (or the exception that fails its job) per delivery, in order."""
    results: list[dict[str, Any] | BaseException | None] = [None] * len(deliveries)
    first: dict[tuple[str, int], int] = {}
    for i, d in enumerate(deliveries):
        if state.own_echo(rt.conn, d):      # the desk answering our own write: no read needed
            results[i] = {**own_write_result(d.ticket_id, OWN_ECHO_REASON), "batched": True}
            rt.count("tiergate_jobs_total", {"kind": "process", "outcome": Outcome.OWN_WRITE})
        elif batching.superseded(rt.conn, d.helpdesk, d.ticket_id, d.received_at) or (d.helpdesk, d.ticket_id) in first:
            results[i] = {"status": Outcome.SUPERSEDED, "ticket_id": d.ticket_id}
            rt.count("tiergate_jobs_total", {"kind": "process", "outcome": Outcome.SUPERSEDED})
        else:
            first[(d.helpdesk, d.ticket_id)] = i
    by_desk: dict[str, list[int]] = {}
    for (helpdesk, _tid), i in first.items():
        by_desk.setdefault(helpdesk, []).append(i)
    for helpdesk, idx in by_desk.items():
        with contextlib.ExitStack() as locks:
            mine = []
            for i in idx:
                d = deliveries[i]
                try:
                    locks.enter_context(ticket_lock(rt.conn, helpdesk, d.ticket_id, wait=0.0))
                    mine.append(i)
                except TicketBusy:
                    results[i] = _again(rt, d, BUSY_RETRY_SECONDS, "busy")
            _decide_all(rt, helpdesk, [deliveries[i] for i in mine], results, mine)
    return [r if r is not None else RuntimeError("not processed") for r in results]


def _again(rt: Any, d: Delivery, delay: float, why: str, attempt: int = 0) -> dict[str, Any]:
    payload = dict(helpdesk=d.helpdesk, ticket_id=d.ticket_id, reason=d.event_type,
                   delivery_id=d.delivery_id, direct=False, webhook=True)
    return followup.reschedule(rt, payload, attempt, delay, why)


def _alone(rt: Any, helpdesk: str, d: Delivery, *, direct: bool = False) -> dict[str, Any] | BaseException:
    """Decide one ticket alone on a fresh fetch (its lock is held), with process's error policy."""
    try:
        result = decide_and_apply(rt, helpdesk, d.ticket_id, d.event_type, d.delivery_id, direct=direct,
                                  webhook=True)
    except RateLimited as exc:
        rt.count("tiergate_ratelimit_waits_total")
        return _again(rt, d, exc.retry_after, "rate_limited")
    except Unavailable as exc:
        rt.count("tiergate_writeback_errors_total", {"kind": "unavailable"})
        return _again(rt, d, 1.0, f"unavailable: {exc}", attempt=1)
    except Exception as exc:  # noqa: BLE001 - this delivery's job fails with its reason
        rt.count("tiergate_jobs_total", {"kind": "process", "outcome": type(exc).__name__})
        return exc
    rt.count("tiergate_jobs_total", {"kind": "process", "outcome": result["status"]})
    return result


def _decide_all(rt: Any, helpdesk: str, ds: list[Delivery], results: list, slots: list[int]) -> None:
    if not ds:
        return
    fetched_at = time.time()
    try:
        tickets, _calls = bulkfetch.fetch_many(rt.connector, [d.ticket_id for d in ds])
    except RateLimited as exc:
        rt.count("tiergate_ratelimit_waits_total")
        for d, i in zip(ds, slots):
            results[i] = _again(rt, d, exc.retry_after, "rate_limited")
        return
    except ConnectorError:
        for d, i in zip(ds, slots):
            results[i] = _alone(rt, helpdesk, d)
        return
    manifest = rt.manifest()
    enricher = rt.enricher(manifest)
    bulk: dict[int, dict] = {}
    pending: dict[int, tuple[int, Delivery, Any, Any, Any]] = {}
    for d, i in zip(ds, slots):
        raw = tickets.get(d.ticket_id)
        if raw is None:
            results[i] = NotFound(f"ticket {d.ticket_id} not found")
            continue
        try:
            if batching.is_parked(rt.conn, helpdesk, d.ticket_id):
                results[i] = _alone(rt, helpdesk, d, direct=False)   # parks behind its waiting decision
                continue
            if state.only_own_write(rt.conn, helpdesk, raw):
                results[i] = {**own_write_result(d.ticket_id), "batched": True}
                rt.count("tiergate_jobs_total", {"kind": "process", "outcome": Outcome.OWN_WRITE})
                continue
            fired = state.fired_state(rt.conn, helpdesk, raw)
            ticket, enrichment, decision = decide_ticket(rt, enricher, raw, manifest, utcnow(),
                                                         fired, parent(rt, raw))
            update = decision.update
            if not writes(decision):
                followup.after_write(rt, helpdesk, ticket, enrichment, decision, d.delivery_id, d.event_type)
                batching.mark_fresh(rt.conn, helpdesk, d.ticket_id, fetched_at)
                results[i] = _result(Outcome.UNCHANGED, decision, d.ticket_id)
                rt.count("tiergate_jobs_total", {"kind": "process", "outcome": Outcome.UNCHANGED})
                continue
            if {n.public for n in update.notes} == {True, False}:
                results[i] = _alone(rt, helpdesk, d)      # two comments: two writes, as apply does
                continue
        except Exception as exc:  # noqa: BLE001 - this ticket only
            results[i] = _alone(rt, helpdesk, d) if isinstance(exc, ConnectorError) else exc
            continue
        bulk[d.ticket_id] = {"ticket": ticket.to_dict(), "decision": decision.to_dict()}
        pending[d.ticket_id] = (i, d, ticket, enrichment, decision)
    if not bulk:
        return
    try:
        outcome = batching.write_batch(rt.connector, bulk)
    except RateLimited as exc:
        rt.count("tiergate_ratelimit_waits_total")
        for i, d, *_ in pending.values():
            results[i] = _again(rt, d, exc.retry_after, "rate_limited")
        return
    except ConnectorError:                       # the whole call refused: one write per ticket
        outcome = {tid: "split" for tid in pending}
    for tid, (i, d, ticket, enrichment, decision) in pending.items():
        if outcome.get(tid) != "ok":
            rt.count("tiergate_writeback_errors_total", {"kind": "bulk_" + outcome.get(tid, "failed")})
            results[i] = _alone(rt, helpdesk, d)
            continue
        try:
            followup.after_write(rt, helpdesk, ticket, enrichment, decision, d.delivery_id, d.event_type)
            batching.mark_fresh(rt.conn, helpdesk, tid, fetched_at)
            results[i] = _result(Outcome.APPLIED, decision, tid)
            rt.count("tiergate_jobs_total", {"kind": "process", "outcome": Outcome.APPLIED})
        except Exception as exc:  # noqa: BLE001 - written; the bookkeeping is redone alone
            log.error("batch: ticket %s after-write failed (%s): decided again alone", tid, type(exc).__name__)
            results[i] = _alone(rt, helpdesk, d)


def _result(status: Outcome, decision: Any, ticket_id: int) -> dict[str, Any]:
    return {"status": status, "ticket_id": ticket_id, "attempts": 1, "batched": True,
            "fired": [f.name for f in decision.fired], "reasons": list(decision.reasons)}


__all__ = ["run", "run_delivery", "claim", "rescue", "batch_size"]
