"""The outcome job: the desk said a ticket was solved, reopened or rated; record what it shows.

``record_outcome(delivery)`` runs for a delivery whose event type is ``outcome:<kind>``
(``connectors/outcome_events.py``). It never trusts the payload: it re-fetches the ticket (status,
satisfaction rating, audited status changes with their instants) and hands the snapshot to
``DecisionLog.observe``, the same path ``tiergate backfill`` writes outcomes through. ``observe``
is idempotent on a snapshot (one no newer than the stored one changes nothing), so a delivery the
receiver's dedupe let through twice records nothing twice.

429 → the job is queued again after Retry-After; 5xx / timeouts → queued again with the decision
job's backoff until ``settings.retry_horizon`` has passed since the first failure, then it fails
with the reason; while the desk's circuit breaker is open it waits for the cool-down; a ticket
that no longer exists fails the job clearly.
"""
from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from rq import get_current_job

from tiergate.connectors.base import Delivery
from tiergate.connectors.outcome_events import outcome_kind
from tiergate.jobs import breaker
from tiergate.jobs.failed import final_on_error
from tiergate.jobs.outcome import Outcome
from tiergate.jobs.queues import JOB_TIMEOUT, abandon_retry, queue, safe_job_id
from tiergate.jobs.runtime import Runtime, get_runtime
from tiergate.plugin.core.errors import RateLimited, Unavailable
from tiergate.runtime import keys

log = logging.getLogger("tiergate.jobs")
KIND = "outcome"


def record_outcome(delivery: dict[str, Any], attempt: int = 0,
                   first_failed_at: float | None = None) -> dict[str, Any]:
    """RQ entry point for an outcome delivery (JSON argument: ``Delivery.to_dict()``)."""
    d = Delivery.from_dict(delivery)
    with final_on_error():
        rt = get_runtime()
        current = get_current_job()
        if current is not None:          # later deliveries for this ticket need a job of their own
            key = keys.waiting_outcome(d.helpdesk, d.ticket_id)
            if rt.conn.get(key) == current.id.encode():
                rt.conn.delete(key)
        return observe_outcome(rt, d, attempt=attempt, first_failed_at=first_failed_at)


def observe_outcome(rt: Runtime, d: Delivery, *, attempt: int = 0,
                    first_failed_at: float | None = None) -> dict[str, Any]:
    """Fetch the ticket and record its outcome facts in the decision log."""
    kind = outcome_kind(d.event_type) or "unknown"
    if rt.decision_log is None:
        rt.count("tiergate_jobs_total", {"kind": KIND, "outcome": Outcome.UNCHANGED})
        return {"status": Outcome.UNCHANGED, "ticket_id": d.ticket_id, "kind": kind,
                "why": "no decision log configured"}
    until = breaker.open_until(rt.conn, d.helpdesk)
    if until is not None:          # the desk is failing: wait for the cool-down, as decisions do
        return _again(rt, d, attempt, first_failed_at, until - time.time(), "circuit_open")
    try:
        ticket = rt.connector.fetch_ticket(d.ticket_id)
    except RateLimited as exc:
        rt.count("tiergate_ratelimit_waits_total")
        return _again(rt, d, attempt, first_failed_at, exc.retry_after, "rate_limited")
    except Unavailable as exc:
        breaker.record_failure(rt.conn, d.helpdesk)
        first = first_failed_at if first_failed_at is not None else time.time()
        if breaker.past_horizon(first, rt.settings.retry_horizon):
            rt.count("tiergate_jobs_total", {"kind": KIND, "outcome": "Unavailable"})
            raise Unavailable(f"{exc} (still failing {rt.settings.retry_horizon:g}s after the first "
                              f"failure, {attempt + 1} attempts: retry horizon passed)") from None
        return _again(rt, d, attempt + 1, first, breaker.backoff(attempt), f"unavailable: {exc}")
    except Exception as exc:
        rt.count("tiergate_jobs_total", {"kind": KIND, "outcome": type(exc).__name__})
        raise
    breaker.record_success(rt.conn, d.helpdesk)
    rt.decision_log.observe(ticket, datetime.now(timezone.utc), helpdesk=d.helpdesk)
    rt.count("tiergate_jobs_total", {"kind": KIND, "outcome": Outcome.RECORDED})
    log.info("outcome recorded helpdesk=%s ticket=%s kind=%s status=%s", d.helpdesk, d.ticket_id, kind,
             ticket.status)
    return {"status": Outcome.RECORDED, "ticket_id": d.ticket_id, "kind": kind,
            "ticket_status": ticket.status, "satisfaction": ticket.satisfaction}


def _again(rt: Runtime, d: Delivery, attempt: int, first_failed_at: float | None, delay: float,
           why: str) -> dict[str, Any]:
    delay = max(1.0, float(delay)) + random.uniform(0, 1)
    job = queue(rt.conn, rt.settings).enqueue_in(
        timedelta(seconds=delay), record_outcome, d.to_dict(), attempt, first_failed_at,
        job_id=safe_job_id("tg-outcome-retry", d.helpdesk, d.ticket_id, time.time_ns()),
        retry=abandon_retry(), job_timeout=JOB_TIMEOUT, failure_ttl=7 * 24 * 3600,
        description=f"outcome {d.helpdesk} ticket {d.ticket_id}")
    rt.count("tiergate_jobs_total", {"kind": KIND, "outcome": Outcome.RESCHEDULED})
    log.info("outcome rescheduled ticket=%s in %.1fs (%s)", d.ticket_id, delay, why)
    return {"status": Outcome.RESCHEDULED, "ticket_id": d.ticket_id, "why": why, "delay": round(delay, 3),
            "job_id": job.id}
