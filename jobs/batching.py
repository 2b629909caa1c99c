"""Bursts: coalesce write-backs into the helpdesk's bulk endpoint, and skip superseded deliveries.

Parking. When the queue's backlog is above ``threshold()`` (``TIERGATE_BATCH_THRESHOLD``, default
100 queued jobs), ``process_ticket`` decides per ticket as always (under the ticket lock, on a fresh
fetch) but, instead of one ``PUT`` per ticket, parks the decision in a Redis hash keyed by ticket
id (``tg:batch:pending:<helpdesk>``, a newer decision for the same ticket replaces the older
one). A flusher job (``flush_job``, enqueued at the FRONT of the queue once ``max_batch`` decisions
wait, or after ``FLUSH_AFTER`` seconds) moves up to ``max_batch`` entries atomically (Lua) into
the in-flight hash and writes them with ONE ``update_many`` call (Zendesk: <= 100 tickets).

Safety without a per-ticket ``PUT``:
- Each bulk item carries ``safe_update`` + ``updated_stamp`` = the ``updated_at`` of the fetch the
  decision was made on (the local server honours it per item, like a single update; on real
  Zendesk this is unconfirmed for update_many, see docs/reliability.md). A ticket that changed
  meanwhile fails with a conflict in the job_status results and is re-decided by a direct job
  (``process_ticket(direct=True)``: fresh fetch, single write) - "409 -> re-fetch and re-decide".
- Tags go as ``additional_tags`` / ``remove_tags`` deltas: nothing another writer set is clobbered.
- Fired state, decision log and timers (``followup.after_write``) are stored only after the bulk
  write succeeded, so a lost or failed flush never marks a trigger as fired.
- While a ticket has a parked or in-flight decision, every new decision for it is parked too, so
  the flusher is its only writer (per-ticket serialization holds). An in-flight entry whose flusher
  died is put back (at once when its flush job is no longer running, e.g. by that job's RQ
  re-run; else after ``STALE_INFLIGHT`` seconds) and re-sent with its old stamp: if the first
  send landed, the stamp now conflicts and the re-decision finds the note's fingerprint in the
  thread - no doubled note; if it did not land, it lands now - no lost note.

Isolation. One ticket never fails the others of its batch: an entry that cannot be read or
sent, and a ticket whose after-write bookkeeping raises, are re-decided alone by a direct job;
a bulk call refused for a reason other than a rate limit or an outage (a 4xx for one item's
content fails the whole call) splits the batch into direct jobs, one write per ticket, so only
the bad ticket's own job can fail.

Superseding. Every completed decision records when its fetch started (``mark_fresh``). A queued
delivery received more than ``SKEW`` seconds before such a fetch is already covered by it (the
worker re-fetches the current state anyway), so ``superseded`` lets it finish without a second
fetch: a burst of N webhooks for one ticket costs about one decision, not N.
"""
from __future__ import annotations

import json
import logging
import os
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from redis import Redis

from tiergate.connectors.zendesk import ticket_payload
from tiergate.jobs import followup
from tiergate.runtime import keys
from tiergate.jobs.failed import final_on_error
from tiergate.jobs.locks import current_owner
from tiergate.jobs.outcome import Outcome
from tiergate.jobs.queues import abandon_retry, queue, safe_job_id
from tiergate.jobs.runtime import get_runtime
from tiergate.plugin.core.errors import RateLimited, Unavailable
from tiergate.plugin.core.model import Decision, Enrichment, Ticket, TicketUpdate

log = logging.getLogger("tiergate.jobs")

DEFAULT_THRESHOLD = 100
FLUSH_AFTER = 1.0          # seconds a parked decision may wait for its batch to fill
STALE_INFLIGHT = 130.0     # seconds; longer than a flush job's timeout (120)
SKEW = 1.0                 # seconds of clock skew tolerated between receivers and workers
FLUSH_FUNC = "tiergate.jobs.batching.flush_job"

_TAKE = """
local fields = redis.call('HKEYS', KEYS[1])
local out = {}
local n = 0
local limit = tonumber(ARGV[1])
for _, f in ipairs(fields) do
  if n >= limit then break end
  if redis.call('HEXISTS', KEYS[2], f) == 0 then
    local v = redis.call('HGET', KEYS[1], f)
    redis.call('HSET', KEYS[2], f, ARGV[2] .. '|' .. ARGV[3] .. '|' .. v)
    redis.call('HDEL', KEYS[1], f)
    out[#out + 1] = f
    out[#out + 1] = v
    n = n + 1
  end
end
return out
"""

_FRESH = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 1
"""


def threshold() -> int:
    try:
        return int(os.environ.get("TIERGATE_BATCH_THRESHOLD", DEFAULT_THRESHOLD))
    except ValueError:
        return DEFAULT_THRESHOLD


def supports_bulk(connector: Any) -> bool:
    return getattr(connector, "name", "") == "zendesk" and callable(getattr(connector, "_send", None))


def is_parked(conn: Redis, helpdesk: str, ticket_id: int) -> bool:
    pipe = conn.pipeline(transaction=False)
    pipe.hexists(keys.batch_pending(helpdesk), ticket_id)
    pipe.hexists(keys.batch_inflight(helpdesk), ticket_id)
    return any(pipe.execute())


def backlog(rt: Any) -> int:
    return queue(rt.conn, rt.settings).count


def should_park(rt: Any, helpdesk: str, ticket_id: int) -> bool:
    """Park this decision instead of writing it now? (Called under the ticket lock.)"""
    if not supports_bulk(rt.connector):
        return False
    return is_parked(rt.conn, helpdesk, ticket_id) or backlog(rt) > threshold()


def park(rt: Any, helpdesk: str, ticket: Any, enrichment: Any, decision: Any, delivery_id: str,
         reason: str) -> None:
    entry = {"ticket": ticket.to_dict(), "enrichment": enrichment.to_dict(), "decision": decision.to_dict(),
             "delivery_id": delivery_id, "reason": reason, "parked_at": time.time()}
    rt.conn.hset(keys.batch_pending(helpdesk), ticket.id, json.dumps(entry))
    ensure_flush(rt, helpdesk)


def ensure_flush(rt: Any, helpdesk: str, *, delay: float | None = None) -> None:
    """At most one flusher waiting per helpdesk: right away (front of the queue) once a batch
    is full, else after ``FLUSH_AFTER`` seconds; ``delay`` forces one after that long."""
    conn, flag = rt.conn, keys.batch_flush(helpdesk)
    max_batch = int(getattr(rt.connector, "max_batch", 100))
    if delay is not None:
        conn.set(flag, "later", ex=int(STALE_INFLIGHT))
    elif conn.hlen(keys.batch_pending(helpdesk)) >= max_batch:
        if conn.getset(flag, "now") == b"now":
            return
        conn.expire(flag, int(STALE_INFLIGHT))
        delay = 0.0
    elif conn.set(flag, "later", nx=True, ex=int(STALE_INFLIGHT)):
        delay = FLUSH_AFTER
    else:
        return
    q = queue(conn, rt.settings)
    options = dict(job_id=safe_job_id("tg-flush", helpdesk, time.time_ns()), at_front=True,
                   retry=abandon_retry(), job_timeout=120, failure_ttl=7 * 24 * 3600)
    if delay <= 0:
        q.enqueue(FLUSH_FUNC, {"helpdesk": helpdesk}, **options)
    else:
        q.enqueue_in(timedelta(seconds=max(1.0, delay)), FLUSH_FUNC, {"helpdesk": helpdesk}, **options)


def _recover_stale(conn: Redis, helpdesk: str, me: str = "") -> int:
    """In-flight entries whose flusher died go back to pending (unless a newer one waits): those
    of a flush job that is not running any more (a killed flusher's RQ re-run finds its own), or
    older than ``STALE_INFLIGHT`` seconds."""
    moved = 0
    now = time.time()
    alive: dict[str, bool] = {}
    for field, raw in conn.hgetall(keys.batch_inflight(helpdesk)).items():
        owner, taken, entry = raw.decode().split("|", 2)
        if owner not in alive:
            status = conn.hget(f"rq:job:{owner}", "status") if owner else None
            alive[owner] = owner.startswith("local-") or (owner != me and status in (b"started", b"queued"))
        if not alive[owner] or now - float(taken) > STALE_INFLIGHT:
            conn.hsetnx(keys.batch_pending(helpdesk), field, entry)
            conn.hdel(keys.batch_inflight(helpdesk), field)
            moved += 1
    return moved


def flush_job(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point: write parked decisions in bulk until none wait (a bounded number of calls)."""
    with final_on_error():
        return flush(get_runtime(), payload["helpdesk"])


def flush(rt: Any, helpdesk: str, *, max_calls: int = 20) -> dict[str, Any]:
    conn = rt.conn
    me = current_owner()
    conn.delete(keys.batch_flush(helpdesk))
    _recover_stale(conn, helpdesk, me)
    take = conn.register_script(_TAKE)
    max_batch = int(getattr(rt.connector, "max_batch", 100))
    totals = {"status": Outcome.FLUSHED, "calls": 0, "written": 0, "conflicts": 0, "missing": 0, "failed": 0,
              "split": 0}
    for _ in range(max_calls):
        flush_id = me or f"local-{uuid.uuid4().hex[:12]}"
        raw = take(keys=[keys.batch_pending(helpdesk), keys.batch_inflight(helpdesk)], args=[max_batch, flush_id, time.time()])
        if not raw:
            break
        batch = _decode(rt, helpdesk, raw, totals)
        if not batch:
            continue
        try:
            outcome = write_batch(rt.connector, batch)
        except (RateLimited, Unavailable) as exc:
            _put_back(conn, helpdesk, batch)
            delay = exc.retry_after if isinstance(exc, RateLimited) else 2.0
            rt.count("tiergate_writeback_errors_total", {"kind": "bulk_" + type(exc).__name__.lower()})
            ensure_flush(rt, helpdesk, delay=max(1.0, delay))
            totals["status"] = f"deferred: {type(exc).__name__}"
            return totals
        except Exception as exc:  # noqa: BLE001 - one item's content must not block the rest
            log.error("bulk write of %d tickets refused (%s): each is re-decided alone",
                      len(batch), type(exc).__name__)
            outcome = {tid: "split" for tid in batch}
        else:
            totals["calls"] += 1
        _settle(rt, helpdesk, batch, outcome, totals)
    if conn.hlen(keys.batch_pending(helpdesk)):
        ensure_flush(rt, helpdesk)
    return totals


def _decode(rt: Any, helpdesk: str, raw: list, totals: dict[str, Any]) -> dict[int, dict]:
    """The taken entries by ticket id; one that cannot be read is re-decided alone."""
    batch: dict[int, dict] = {}
    for i in range(0, len(raw), 2):
        try:
            entry = json.loads(raw[i + 1])
            if not (isinstance(entry.get("decision"), dict) and isinstance(entry.get("ticket"), dict)):
                raise ValueError("not a parked decision")
            batch[int(raw[i])] = entry
        except Exception as exc:  # noqa: BLE001
            log.error("parked decision for ticket %r unreadable (%s): re-decided alone", raw[i],
                      type(exc).__name__)
            totals["failed"] += 1
            rt.count("tiergate_writeback_errors_total", {"kind": "bulk_unreadable"})
            rt.conn.hdel(keys.batch_inflight(helpdesk), raw[i])
            try:
                _redecide(rt, helpdesk, int(raw[i]), {}, "unreadable parked decision")
            except ValueError:
                pass
    return batch


def _redecide(rt: Any, helpdesk: str, tid: int, entry: dict, why: str) -> None:
    followup.reschedule(rt, dict(helpdesk=helpdesk, ticket_id=tid, reason=entry.get("reason", "bulk"),
                                 delivery_id=entry.get("delivery_id", "bulk"), direct=True), 0, 0, why)


def _put_back(conn: Redis, helpdesk: str, batch: dict[int, dict]) -> None:
    for tid, entry in batch.items():
        conn.hsetnx(keys.batch_pending(helpdesk), tid, json.dumps(entry))
        conn.hdel(keys.batch_inflight(helpdesk), tid)


def _settle(rt: Any, helpdesk: str, batch: dict[int, dict], outcome: dict[int, str],
            totals: dict[str, Any]) -> None:
    """After the bulk call: record what was written; re-decide conflicts, failures and split
    batches alone; drop missing tickets. One ticket's error never stops the others'."""
    for tid, entry in batch.items():
        result = outcome.get(tid, "failed")
        try:
            if result == "ok":
                ticket = Ticket.from_dict(entry["ticket"])
                decision = Decision.from_dict(entry["decision"])
                followup.after_write(rt, helpdesk, ticket, Enrichment.from_dict(entry["enrichment"]),
                                     decision, entry["delivery_id"], entry["reason"])
                totals["written"] += 1
            elif result == "missing":
                log.warning("bulk write: ticket %s no longer exists; decision dropped", tid)
                totals["missing"] += 1
            else:
                totals["conflicts" if result == "conflict" else "split" if result == "split"
                       else "failed"] += 1
                rt.count("tiergate_writeback_errors_total", {"kind": "bulk_" + result})
                _redecide(rt, helpdesk, tid, entry, f"bulk {result}")
        except Exception as exc:  # noqa: BLE001 - the written ticket is re-decided alone
            log.error("bulk write: ticket %s after-write failed (%s): re-decided alone", tid,
                      type(exc).__name__)
            rt.count("tiergate_writeback_errors_total", {"kind": "bulk_after_write"})
            _redecide(rt, helpdesk, tid, entry, "after-write failed")
        finally:
            rt.conn.hdel(keys.batch_inflight(helpdesk), tid)


def write_batch(connector: Any, batch: dict[int, dict]) -> dict[int, str]:
    """ONE ``update_many`` for up to ``max_batch`` parked decisions; per ticket "ok", "conflict",
    "missing" or "failed" from the job_status results."""
    items = []
    out: dict[int, str] = {}
    for tid, entry in batch.items():
        try:
            update = TicketUpdate.from_dict(entry["decision"]["update"])
            item = {"id": tid, **ticket_payload(update, current_tags=None)}
            stamp = entry["ticket"].get("updated_at")
            json.dumps(item)                  # what the call will send, checked per item
        except Exception as exc:  # noqa: BLE001 - this item only: re-decided alone
            log.error("bulk write: ticket %s cannot be sent (%s)", tid, type(exc).__name__)
            out[tid] = "failed"
            continue
        if stamp:
            item.update(safe_update=True, updated_stamp=stamp)
        items.append(item)
    if not items:
        return out
    with connector._calls(f"update_many of {len(items)} tickets"):
        job = connector._send("put", "tickets/update_many.json", {"tickets": items})["job_status"]
        job = connector._wait_job(job)
    for r in job.get("results") or []:
        tid = int(r.get("id"))
        if r.get("success", True):
            out[tid] = "ok"
        elif r.get("error") in ("RecordNotFound",):
            out[tid] = "missing"
        elif "Conflict" in str(r.get("error")) or "conflict" in str(r.get("details", "")).lower():
            out[tid] = "conflict"
        else:
            out[tid] = "failed"
    if job.get("status") == "completed" and not job.get("results"):
        out.update({item["id"]: "ok" for item in items})
    return out


# -- superseding ---------------------------------------------------------------------------------
def mark_fresh(conn: Redis, helpdesk: str, ticket_id: int, fetched_at: float) -> None:
    """A decision on a fetch started at ``fetched_at`` (epoch seconds) completed."""
    conn.register_script(_FRESH)(keys=[keys.fresh(helpdesk, ticket_id)], args=[fetched_at, 24 * 3600])


def superseded(conn: Redis, helpdesk: str, ticket_id: int, received_at: datetime | None) -> bool:
    """True when a completed decision fetched the ticket after this delivery arrived."""
    if received_at is None:
        return False
    raw = conn.get(keys.fresh(helpdesk, ticket_id))
    return raw is not None and float(raw) > received_at.timestamp() + SKEW
