"""The worker's job: re-fetch, enrich, decide, write back once, record, plan timers.

Wiring only; every judgement lives in ``plugin.core`` (pure) and ``nlp``. Safe to run twice:
notes carry fingerprints, fired triggers are mirrored as tags in the same write, and the write is
guarded by the ticket's ``updated_at`` stamp (409 → re-fetch and decide again). The steps live in
``jobs.ticket_decision`` (deciding) and ``jobs.followup`` (what is stored after a write).
"""
from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timezone
from typing import Any

from rq import get_current_job

from tiergate.connectors.base import Delivery
from tiergate.jobs import batching, breaker, pool, state
from tiergate.jobs.failed import final_on_error
from tiergate.jobs.followup import reschedule
from tiergate.jobs.locks import TicketBusy, ticket_lock
from tiergate.jobs.outcome import Outcome
from tiergate.jobs.queues import claim_waiting
from tiergate.jobs.runtime import Runtime, get_runtime
from tiergate.jobs.ticket_decision import BUSY_RETRY_SECONDS, OWN_ECHO_REASON, decide_and_apply, own_write_result
from tiergate.plugin.core.errors import RateLimited, Unavailable

log = logging.getLogger("tiergate.jobs")


def process_delivery(delivery: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point for a webhook delivery (JSON argument: ``Delivery.to_dict()``)."""
    d = Delivery.from_dict(delivery)
    with final_on_error():     # raised -> failed at once; RQ's Retry only re-runs killed jobs
        rt = get_runtime()
        current = get_current_job()
        claim_waiting(rt.conn, d.helpdesk, d.ticket_id, current.id if current else None)
        if current is not None:                # a backlog: this job takes waiting deliveries along
            together = pool.run_delivery(rt, d, current.id)
            if together is not None:
                return together
        if state.own_echo(rt.conn, d):         # the desk answering our own write: no read needed
            rt.count("tiergate_jobs_total", {"kind": "process", "outcome": Outcome.OWN_WRITE})
            return own_write_result(d.ticket_id, OWN_ECHO_REASON)
        if batching.superseded(rt.conn, d.helpdesk, d.ticket_id, d.received_at):
            rt.count("tiergate_jobs_total", {"kind": "process", "outcome": Outcome.SUPERSEDED})
            return {"status": Outcome.SUPERSEDED, "ticket_id": d.ticket_id}
        return process_ticket(d.helpdesk, d.ticket_id, d.event_type, d.delivery_id, webhook=True)


def process_ticket(helpdesk: str, ticket_id: int, reason: str, delivery_id: str,
                   *, attempt: int = 0, runtime: Runtime | None = None, direct: bool = False,
                   first_failed_at: float | None = None, webhook: bool = False) -> dict[str, Any]:
    """Decide on one ticket now and write the result back in one update.

    429 → rescheduled after Retry-After (no worker sleeps); 5xx / timeouts → rescheduled with
    jittered exponential backoff while the first failure is younger than ``settings.retry_horizon``
    (``jobs.breaker``), then the job fails with the reason; while the desk's circuit breaker is
    open the vendor is not called and the job waits for the cool-down.
    """
    rt = runtime or get_runtime()
    again = dict(helpdesk=helpdesk, ticket_id=ticket_id, reason=reason, delivery_id=delivery_id, direct=direct,
                 webhook=webhook)
    if first_failed_at is not None:
        again["first_failed_at"] = first_failed_at
    until = breaker.open_until(rt.conn, helpdesk)
    if until is not None:
        rt.count("tiergate_writeback_errors_total", {"kind": "circuit_open"})
        return reschedule(rt, again, attempt, until - time.time() + random.uniform(0, 5),
                          f"circuit_open: {helpdesk} failing, paused until {_iso(until)}")
    try:
        with ticket_lock(rt.conn, helpdesk, ticket_id):
            result = decide_and_apply(rt, helpdesk, ticket_id, reason, delivery_id, direct=direct, webhook=webhook)
    except RateLimited as exc:
        rt.count("tiergate_ratelimit_waits_total")
        return reschedule(rt, again, attempt, exc.retry_after, "rate_limited")
    except TicketBusy:
        return reschedule(rt, again, attempt, BUSY_RETRY_SECONDS, "busy")
    except Unavailable as exc:
        breaker.record_failure(rt.conn, helpdesk)
        first = first_failed_at if first_failed_at is not None else time.time()
        if breaker.past_horizon(first, rt.settings.retry_horizon):
            rt.count("tiergate_jobs_total", {"kind": "process", "outcome": "Unavailable"})
            raise Unavailable(f"{exc} (still failing {rt.settings.retry_horizon:g}s after the first "
                              f"failure, {attempt + 1} attempts: retry horizon passed)") from None
        rt.count("tiergate_writeback_errors_total", {"kind": "unavailable"})
        return reschedule(rt, {**again, "first_failed_at": first}, attempt + 1, breaker.backoff(attempt),
                          f"unavailable: {exc}")
    except Exception as exc:
        rt.count("tiergate_jobs_total", {"kind": "process", "outcome": type(exc).__name__})
        raise
    breaker.record_success(rt.conn, helpdesk)
    rt.count("tiergate_jobs_total", {"kind": "process", "outcome": result["status"]})
    return result


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def process_ticket_job(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point for timers, sweeps and reschedules (JSON argument)."""
    with final_on_error():
        return process_ticket(payload["helpdesk"], int(payload["ticket_id"]), payload.get("reason", "timer"),
                              payload.get("delivery_id", "timer"), attempt=int(payload.get("attempt", 0)),
                              direct=bool(payload.get("direct", False)),
                              first_failed_at=payload.get("first_failed_at"),
                              webhook=bool(payload.get("webhook", False)))
