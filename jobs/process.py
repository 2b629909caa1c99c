"""The worker's job: re-fetch, enrich, decide, write back once, record, plan timers.

Wiring only; every judgement lives in ``plugin.core`` (pure) and ``nlp``. Safe to run twice:
notes carry fingerprints, fired triggers are mirrored as tags in the same write, and the write is
guarded by the ticket's ``updated_at`` stamp (409 → re-fetch and decide again).

No ticket content fails a job: the fetched text is cleaned (``nlp.normalise.clean_ticket``) and
enriched within budgets (``bound_ticket``, stated in the reasons); if enriching still raises, it
is enriched again on a smaller copy, and if that raises too the ticket is decided on what needs
no text (delays, follow-ups, customer value) with the risk tag ``unreadable`` (the manifest
routes it to review) and the reason; if ``decide`` raises, it decides again on the text within
the budgets, then on that text-free view. Each step is logged and counted
(``tiergate_jobs_total{kind="content_error", outcome=<stage>}``); the decision's reasons say
what was not analysed.
"""
from __future__ import annotations

import dataclasses
import os
import logging
import random
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from rq import get_current_job

from tiergate.connectors.base import Delivery
from tiergate.jobs import batching, breaker, state, timers
from tiergate.jobs.failed import final_on_error
from tiergate.jobs.locks import TicketBusy, ticket_lock
from tiergate.jobs.queues import claim_waiting
from tiergate.jobs.runtime import Runtime, get_runtime
from tiergate.plugin.core.decide import decide
from tiergate.plugin.core.errors import Conflict, NotFound, RateLimited, Unavailable
from tiergate.plugin.core.model import (Decision, Enrichment, Notification, Reason, RiskTag, Ticket,
                                        parse_time)

log = logging.getLogger("tiergate.jobs")

MAX_CONFLICTS = 5
BUSY_RETRY_SECONDS = 2
UNREADABLE = "unreadable"            # risk tag: the text could not be analysed at all
FALLBACK_CHARS = 20_000              # budgets of the second attempt at a text that failed
FALLBACK_COMMENTS = 10


def utcnow() -> datetime:
    """The decision clock: the wall clock, or the instant ``TIERGATE_NOW`` names (ISO-8601;
    ``tiergate demo --now`` sets it so time-dependent decisions are reproducible)."""
    fixed = os.environ.get("TIERGATE_NOW")
    if fixed:
        at = parse_time(fixed)
        if at is not None:
            return at
    return datetime.now(timezone.utc)


def process_delivery(delivery: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point for a webhook delivery (JSON argument: ``Delivery.to_dict()``)."""
    d = Delivery.from_dict(delivery)
    with final_on_error():     # raised -> failed at once; RQ's Retry only re-runs killed jobs
        rt = get_runtime()
        current = get_current_job()
        claim_waiting(rt.conn, d.helpdesk, d.ticket_id, current.id if current else None)
        if current is not None:                # a backlog: this job takes waiting deliveries along
            from tiergate.jobs import pool

            together = pool.run_delivery(rt, d, current.id)
            if together is not None:
                return together
        if batching.superseded(rt.conn, d.helpdesk, d.ticket_id, d.received_at):
            rt.count("tiergate_jobs_total", {"kind": "process", "outcome": "superseded"})
            return {"status": "superseded", "ticket_id": d.ticket_id}
        return process_ticket(d.helpdesk, d.ticket_id, d.event_type, d.delivery_id)


def process_ticket(helpdesk: str, ticket_id: int, reason: str, delivery_id: str,
                   *, attempt: int = 0, runtime: Runtime | None = None, direct: bool = False,
                   first_failed_at: float | None = None) -> dict[str, Any]:
    """Decide on one ticket now and write the result back in one update.

    429 → rescheduled after Retry-After (no worker sleeps); 5xx / timeouts → rescheduled with
    jittered exponential backoff while the first failure is younger than ``settings.retry_horizon``
    (``jobs.breaker``), then the job fails with the reason; while the desk's circuit breaker is
    open the vendor is not called and the job waits for the cool-down.
    """
    rt = runtime or get_runtime()
    again = dict(helpdesk=helpdesk, ticket_id=ticket_id, reason=reason, delivery_id=delivery_id, direct=direct)
    if first_failed_at is not None:
        again["first_failed_at"] = first_failed_at
    until = breaker.open_until(rt.conn, helpdesk)
    if until is not None:
        rt.count("tiergate_writeback_errors_total", {"kind": "circuit_open"})
        return _reschedule(rt, again, attempt, until - time.time() + random.uniform(0, 5),
                           f"circuit_open: {helpdesk} failing, paused until {_iso(until)}")
    try:
        with ticket_lock(rt.conn, helpdesk, ticket_id):
            result = _decide_and_apply(rt, helpdesk, ticket_id, reason, delivery_id, direct=direct)
    except RateLimited as exc:
        rt.count("tiergate_ratelimit_waits_total")
        return _reschedule(rt, again, attempt, exc.retry_after, "rate_limited")
    except TicketBusy:
        return _reschedule(rt, again, attempt, BUSY_RETRY_SECONDS, "busy")
    except Unavailable as exc:
        breaker.record_failure(rt.conn, helpdesk)
        first = first_failed_at if first_failed_at is not None else time.time()
        if breaker.past_horizon(first, rt.settings.retry_horizon):
            rt.count("tiergate_jobs_total", {"kind": "process", "outcome": "Unavailable"})
            raise Unavailable(f"{exc} (still failing {rt.settings.retry_horizon:g}s after the first "
                              f"failure, {attempt + 1} attempts: retry horizon passed)") from None
        rt.count("tiergate_writeback_errors_total", {"kind": "unavailable"})
        return _reschedule(rt, {**again, "first_failed_at": first}, attempt + 1, breaker.backoff(attempt),
                           f"unavailable: {exc}")
    except Exception as exc:
        rt.count("tiergate_jobs_total", {"kind": "process", "outcome": type(exc).__name__})
        raise
    breaker.record_success(rt.conn, helpdesk)
    rt.count("tiergate_jobs_total", {"kind": "process", "outcome": result["status"]})
    return result


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def _decide_and_apply(rt: Runtime, helpdesk: str, ticket_id: int, reason: str,
                      delivery_id: str, *, direct: bool = False) -> dict[str, Any]:
    manifest = rt.manifest()
    enricher = rt.enricher(manifest)
    for attempt in range(1, MAX_CONFLICTS + 1):
        fetched_at = time.time()
        fetched = rt.connector.fetch_ticket(ticket_id)  # NotFound propagates
        fired = state.fired_state(rt.conn, helpdesk, fetched)
        ticket, enrichment, decision = decide_ticket(rt, enricher, fetched, manifest, utcnow(), fired,
                                                     _parent(rt, fetched))
        written = writes(decision)
        if written and not direct and batching.should_park(rt, helpdesk, ticket_id):
            # a burst: the flusher writes it with update_many, then runs _after_write
            batching.park(rt, helpdesk, ticket, enrichment, decision, delivery_id, reason)
            batching.mark_fresh(rt.conn, helpdesk, ticket_id, fetched_at)
            return {"status": "parked", "ticket_id": ticket_id, "attempts": attempt,
                    "fired": [f.name for f in decision.fired], "reasons": list(decision.reasons)}
        if written:
            try:
                rt.connector.apply(ticket_id, decision.update, expected_updated_at=ticket.updated_at,
                                   delivery_id=delivery_id)
            except Conflict:
                log.info("conflict ticket=%s attempt=%s: re-fetching", ticket_id, attempt)
                rt.count("tiergate_writeback_errors_total", {"kind": "conflict"})
                continue
        _after_write(rt, helpdesk, ticket, enrichment, decision, delivery_id, reason)
        batching.mark_fresh(rt.conn, helpdesk, ticket_id, fetched_at)
        return {"status": "applied" if written else "unchanged",
                "ticket_id": ticket_id, "attempts": attempt,
                "fired": [f.name for f in decision.fired], "reasons": list(decision.reasons)}
    raise Conflict(f"ticket {ticket_id} kept changing during {MAX_CONFLICTS} attempts")


def decide_ticket(rt: Runtime, enricher, fetched: Ticket, manifest, now: datetime, fired: frozenset[str],
                  parent: Ticket | None) -> tuple[Ticket, Enrichment, Decision]:
    """The one decision path (the worker's jobs and ``tiergate simulate``): the fetched ticket
    cleaned, enriched within the budgets, decided, each step with its fallbacks."""
    ticket = _cleaned(rt, fetched)
    enrichment = _enrich(rt, enricher, ticket, now)
    return ticket, enrichment, _decide(rt, ticket, enrichment, manifest, now, fired, parent)


def writes(decision: Decision) -> bool:
    """Whether the decision is written to the helpdesk (an update that would only drop stale
    ``tg_fired_*`` mirror tags is not)."""
    return not (decision.update.is_empty() or state.only_mirror_cleanup(decision.update))


def _failure(exc: BaseException) -> str:
    from tiergate.nlp.normalise import clean_text

    return f"{type(exc).__name__}: {' '.join(clean_text(str(exc))[:160].split())}"


def _content_error(rt: Runtime, ticket_id: int, stage: str, exc: BaseException) -> None:
    log.error("content error ticket=%s stage=%s %s", ticket_id, stage, _failure(exc))
    rt.count("tiergate_jobs_total", {"kind": "content_error", "outcome": stage})


def _cleaned(rt: Runtime, ticket: Ticket) -> Ticket:
    """Every text of the ticket decodable, without control characters, HTML read as text."""
    from tiergate.nlp.normalise import clean_ticket

    try:
        return clean_ticket(ticket)
    except Exception as exc:  # noqa: BLE001 - enrichment below has its own fallbacks
        _content_error(rt, ticket.id, "clean", exc)
        return ticket


def _enrich(rt: Runtime, enricher, ticket: Ticket, now: datetime) -> Enrichment:
    """The enrichment of the text within the budgets (``bound_ticket``: the first and the latest
    50 comments, 200,000 characters; a cut is stated in a ``text_budget`` reason); else of a
    smaller copy; else of no text at all. ``decide`` still sees the whole ticket."""
    from tiergate.nlp.normalise import bound_ticket

    try:
        reading, note = bound_ticket(ticket)
        enrichment = enricher.enrich(reading, now)
        if note is None:
            return enrichment
        return dataclasses.replace(enrichment, reasons=(*enrichment.reasons,
                                                        Reason("text_budget", 0.0, note)))
    except Exception as exc:  # noqa: BLE001 - one ticket's content never fails its job
        first = exc
        _content_error(rt, ticket.id, "enrich", exc)
    try:
        bounded, note = bound_ticket(ticket, FALLBACK_CHARS, FALLBACK_COMMENTS)
        enrichment = enricher.enrich(bounded, now)
    except Exception as exc:  # noqa: BLE001
        _content_error(rt, ticket.id, "enrich_bounded", exc)
        return text_free_enrichment(ticket, now, first)
    detail = (f"the whole text could not be analysed ({_failure(first)}); "
              f"{note or 'analysed again'}")
    return dataclasses.replace(enrichment, reasons=(*enrichment.reasons,
                                                    Reason("text_budget", 0.0, detail)))


def text_free_enrichment(ticket: Ticket, now: datetime, why: BaseException) -> Enrichment:
    """What needs no text (response delay, follow-ups, customer value), the risk tag
    ``unreadable`` and a reason naming the failure: the rules that read no text still decide,
    and the manifest's trigger on ``unreadable`` routes the ticket to a person."""
    from tiergate.nlp.points import conversation_reasons

    try:
        extra = [Reason(r.signal, float(r.points), r.detail)
                 for r in conversation_reasons(ticket, now)]
    except Exception:  # noqa: BLE001 - then only the reason below
        extra = []
    detail = (f"the text could not be analysed ({_failure(why)}): decided on what needs no "
              f"text, for a person to review")
    score = min(100, int(sum(r.points for r in extra)))
    return Enrichment(attention_score=score, sentiment=0.0, sentiment_label="neutral",
                      complaint=False, risk_tags=(RiskTag(UNREADABLE, _failure(why)),),
                      reasons=(*extra, Reason(UNREADABLE, 0.0, detail)))


def _text_free(ticket: Ticket) -> Ticket:
    """The ticket without its words; comments keep only tiergate's fingerprint lines, so notes
    already written are still recognised."""
    comments = tuple(dataclasses.replace(c, body="\n".join(
        ln for ln in (c.body or "").splitlines() if "[tiergate:" in ln)) for c in ticket.comments)
    return dataclasses.replace(ticket, subject="", description="", comments=comments)


def _decide(rt: Runtime, ticket: Ticket, enrichment: Enrichment, manifest, now: datetime,
            fired: frozenset[str], parent: Ticket | None) -> Decision:
    """``decide``; on an exception, decide again on the text within the budgets, then on the
    text-free view; the reasons say what was not analysed."""
    try:
        decision = decide(ticket, enrichment, manifest, now, fired, parent=parent,
                          note_keys=rt.settings.note_secret)
    except Exception as exc:  # noqa: BLE001 - the ticket still gets a decision
        _content_error(rt, ticket.id, "decide", exc)
        decision = _decide_bounded(rt, ticket, enrichment, manifest, now, fired, parent)
        if decision is None and not any(r.signal == UNREADABLE for r in enrichment.reasons):
            enrichment = text_free_enrichment(ticket, now, exc)
        try:
            if decision is None:
                decision = decide(_text_free(ticket), enrichment, manifest, now, fired,
                                  note_keys=rt.settings.note_secret)
        except Exception as again:  # noqa: BLE001 - nothing is written; the reason is kept
            _content_error(rt, ticket.id, "decide_text_free", again)
            return Decision(ticket_id=ticket.id, at=now, manifest_version=manifest.version,
                            fired_state=tuple(sorted(fired)),
                            reasons=(f"could not decide ({_failure(again)}): nothing written, "
                                     f"for a person to look at",))
    said = tuple(r.detail for r in enrichment.reasons if r.signal in (UNREADABLE, "text_budget"))
    return dataclasses.replace(decision, reasons=(*said, *decision.reasons)) if said else decision


def _decide_bounded(rt: Runtime, ticket: Ticket, enrichment: Enrichment, manifest, now: datetime,
                    fired: frozenset[str], parent: Ticket | None) -> Decision | None:
    """``decide`` on the ticket as enriched (``bound_ticket``: every comment in place, a pasted
    log in the subject cut to its start, bodies outside the budgets blank), or None."""
    from tiergate.nlp.normalise import bound_ticket

    try:
        bounded, _ = bound_ticket(ticket)
        if bounded is ticket:
            return None
        return decide(bounded, enrichment, manifest, now, fired, parent=parent,
                      note_keys=rt.settings.note_secret)
    except Exception as exc:  # noqa: BLE001 - then the text-free view
        _content_error(rt, ticket.id, "decide_bounded", exc)
        return None


def _parent(rt: Runtime, ticket: Ticket) -> Ticket | None:
    """The ticket this one follows up (or the problem it belongs to), for the handoff context."""
    parent_id = ticket.via_followup_source_id or ticket.problem_id
    if not parent_id:
        return None
    try:
        return _cleaned(rt, rt.connector.fetch_ticket(parent_id))
    except NotFound:
        return None


def _after_write(rt: Runtime, helpdesk: str, ticket: Ticket, enrichment: Enrichment,
                 decision: Decision, delivery_id: str, reason: str) -> None:
    state.save_fired_state(rt.conn, helpdesk, ticket.id, decision.fired_state)
    for note in decision.notifications:
        _notify(rt, note, helpdesk, ticket.id)
    for fired in decision.fired:
        rt.count("tiergate_decisions_total", {"trigger": fired.name})
    _save_summary(rt, helpdesk, ticket, enrichment, decision, delivery_id, reason)
    if rt.decision_log is not None:
        try:
            rt.decision_log.record(decision, ticket, enrichment, helpdesk=helpdesk, delivery_id=delivery_id)
            rt.decision_log.observe(ticket, decision.at, helpdesk=helpdesk)
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
    from tiergate.jobs.oncall import enqueue_pages

    enqueue_pages(rt.conn, rt.settings, rt.manifest(), note, helpdesk=helpdesk, ticket_id=ticket_id)


def _reschedule(rt: Runtime, payload: dict[str, Any], attempt: int, delay: float,
                why: str) -> dict[str, Any]:
    from tiergate.jobs.queues import JOB_TIMEOUT, abandon_retry, queue, safe_job_id

    delay = max(1.0, float(delay))
    job = queue(rt.conn, rt.settings).enqueue_in(
        timedelta(seconds=delay), "tiergate.jobs.process.process_ticket_job",
        {**payload, "attempt": attempt, "why": why},
        job_id=safe_job_id("tg-retry", payload["helpdesk"], payload["ticket_id"], time.time_ns()),
        retry=abandon_retry(), job_timeout=JOB_TIMEOUT, failure_ttl=7 * 24 * 3600)
    log.info("rescheduled ticket=%s in %.1fs (%s)", payload["ticket_id"], delay, why)
    return {"status": "rescheduled", "ticket_id": payload["ticket_id"], "why": why,
            "delay": round(delay, 3), "job_id": job.id}


def process_ticket_job(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point for timers, sweeps and reschedules (JSON argument)."""
    with final_on_error():
        return process_ticket(payload["helpdesk"], int(payload["ticket_id"]), payload.get("reason", "timer"),
                              payload.get("delivery_id", "timer"), attempt=int(payload.get("attempt", 0)),
                              direct=bool(payload.get("direct", False)),
                              first_failed_at=payload.get("first_failed_at"))
