"""After a write: fired state, summary, decision log, pages, timers; and re-queueing a decision later."""
from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from tiergate.jobs import state, timers
from tiergate.jobs.oncall import enqueue_pages
from tiergate.jobs.outcome import Outcome
from tiergate.jobs.queues import JOB_TIMEOUT, abandon_retry, queue, safe_job_id
from tiergate.jobs.runtime import Runtime
from tiergate.plugin.core.model import Decision, Enrichment, Notification, Ticket

log = logging.getLogger("tiergate.jobs")


def after_write(rt: Runtime, helpdesk: str, ticket: Ticket, enrichment: Enrichment,
                decision: Decision, delivery_id: str, reason: str) -> None:
    state.save_fired_state(rt.conn, helpdesk, ticket.id, decision.fired_state)
    if not (decision.update.is_empty() or state.only_mirror_cleanup(decision.update)):
        state.save_own_write(rt.conn, helpdesk, ticket, decision.update,
                             rt.connector.comments_added(decision.update))
    for note in decision.notifications:
        _notify(rt, note, helpdesk, ticket.id)
    for fired in decision.fired:
        rt.count("tiergate_decisions_total", {"trigger": fired.name})
    _save_summary(rt, helpdesk, ticket, enrichment, decision, delivery_id, reason)
    if rt.decision_log is not None:
        try:
            # record() observes the snapshot in the same transaction (one commit per ticket)
            rt.decision_log.record(decision, ticket, enrichment, helpdesk=helpdesk, delivery_id=delivery_id)
        except Exception as exc:  # the helpdesk write already happened; analytics must not undo it
            log.error("decision log unavailable ticket=%s error=%s", ticket.id, type(exc).__name__)
            rt.count("tiergate_writeback_errors_total", {"kind": "decision_log"})
    # always: an empty plan cancels the ticket's stale timers
    timers.schedule(rt.conn, rt.settings, helpdesk, ticket.id, decision.timers)


def _save_summary(rt: Runtime, helpdesk: str, ticket: Ticket, enrichment: Enrichment,
                  decision: Decision, delivery_id: str, reason: str) -> None:
    """What the last acting decision did and why (the demo and operators read it); a later
    decision that changes nothing only refreshes ``checked_at``, keeping the explanation."""
    at = decision.to_dict()["at"]
    previous = state.load_summary(rt.conn, helpdesk, ticket.id)
    if previous is not None and not (decision.fired or decision.escalation):
        state.save_summary(rt.conn, helpdesk, ticket.id, {**previous, "checked_at": at})
        return
    state.save_summary(rt.conn, helpdesk, ticket.id, {
        "ticket_id": ticket.id, "at": at, "checked_at": at, "reason": reason,
        "delivery_id": delivery_id, "manifest_version": decision.manifest_version,
        "attention_score": enrichment.attention_score, "sentiment": enrichment.sentiment,
        "risk_tags": [r.to_dict() for r in enrichment.risk_tags],
        "signals": [r.to_dict() for r in enrichment.reasons],
        "fired": [f.name for f in decision.fired],
        # a later decision that moves nothing keeps the escalation the ticket went through
        "escalation": decision.escalation.to_dict() if decision.escalation else
        (previous or {}).get("escalation"),
        "reasons": list(decision.reasons),
    })


def _notify(rt: Runtime, note: Notification, helpdesk: str, ticket_id: int) -> None:
    """Queue the on-call page, one job per channel of its route (``jobs.oncall``: SMTP,
    PagerDuty, Slack, webhook; retried, deduplicated by fingerprint, recorded)."""
    enqueue_pages(rt.conn, rt.settings, rt.manifest(), note, helpdesk=helpdesk, ticket_id=ticket_id)


def reschedule(rt: Runtime, payload: dict[str, Any], attempt: int, delay: float,
               why: str) -> dict[str, Any]:
    delay = max(1.0, float(delay))
    job = queue(rt.conn, rt.settings).enqueue_in(
        timedelta(seconds=delay), "tiergate.jobs.process.process_ticket_job",
        {**payload, "attempt": attempt, "why": why},
        job_id=safe_job_id("tg-retry", payload["helpdesk"], payload["ticket_id"], time.time_ns()),
        retry=abandon_retry(), job_timeout=JOB_TIMEOUT, failure_ttl=7 * 24 * 3600)
    log.info("rescheduled ticket=%s in %.1fs (%s)", payload["ticket_id"], delay, why)
    return {"status": Outcome.RESCHEDULED, "ticket_id": payload["ticket_id"], "why": why,
            "delay": round(delay, 3), "job_id": job.id}


