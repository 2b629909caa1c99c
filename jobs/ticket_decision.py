"""Deciding on one fetched ticket: enrich within budgets, decide, write back once (with retries on 409).

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
import logging
import os
import time
from datetime import datetime, timezone
from typing import Any

from tiergate.jobs import batching, followup, state
from tiergate.jobs.outcome import Outcome
from tiergate.jobs.runtime import Runtime
from tiergate.nlp.normalise import bound_ticket, clean_text, clean_ticket
from tiergate.nlp.points import conversation_reasons
from tiergate.plugin.core.decide import decide
from tiergate.plugin.core.errors import Conflict, NotFound
from tiergate.plugin.core.model import Decision, Enrichment, Reason, RiskTag, Ticket, parse_time

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


def decide_and_apply(rt: Runtime, helpdesk: str, ticket_id: int, reason: str,
                     delivery_id: str, *, direct: bool = False, webhook: bool = False) -> dict[str, Any]:
    """``webhook``: the job answers a desk delivery; one raised by tiergate's own last write
    (the ticket exactly as that write left it) decides nothing (``Outcome.OWN_WRITE``)."""
    manifest = rt.manifest()
    enricher = rt.enricher(manifest)
    for attempt in range(1, MAX_CONFLICTS + 1):
        fetched_at = time.time()
        fetched = rt.connector.fetch_ticket(ticket_id)  # NotFound propagates
        if webhook and state.only_own_write(rt.conn, helpdesk, fetched):
            return own_write_result(ticket_id)
        fired = state.fired_state(rt.conn, helpdesk, fetched)
        ticket, enrichment, decision = decide_ticket(rt, enricher, fetched, manifest, utcnow(), fired,
                                                     parent(rt, fetched))
        written = writes(decision)
        if written and not direct and batching.should_park(rt, helpdesk, ticket_id):
            # a burst: the flusher writes it with update_many, then runs followup.after_write
            batching.park(rt, helpdesk, ticket, enrichment, decision, delivery_id, reason)
            batching.mark_fresh(rt.conn, helpdesk, ticket_id, fetched_at)
            return {"status": Outcome.PARKED, "ticket_id": ticket_id, "attempts": attempt,
                    "fired": [f.name for f in decision.fired], "reasons": list(decision.reasons)}
        if written:
            try:
                after = rt.connector.apply(ticket_id, decision.update, expected_updated_at=ticket.updated_at,
                                           delivery_id=delivery_id)
                state.save_own_stamp(rt.conn, helpdesk, ticket_id, after.updated_at)
            except Conflict:
                log.info("conflict ticket=%s attempt=%s: re-fetching", ticket_id, attempt)
                rt.count("tiergate_writeback_errors_total", {"kind": "conflict"})
                continue
        followup.after_write(rt, helpdesk, ticket, enrichment, decision, delivery_id, reason)
        batching.mark_fresh(rt.conn, helpdesk, ticket_id, fetched_at)
        return {"status": Outcome.APPLIED if written else Outcome.UNCHANGED,
                "ticket_id": ticket_id, "attempts": attempt,
                "fired": [f.name for f in decision.fired], "reasons": list(decision.reasons)}
    raise Conflict(f"ticket {ticket_id} kept changing during {MAX_CONFLICTS} attempts")


OWN_ECHO_REASON = "the delivery names the updated_at of tiergate's own last update: nothing new to decide"


def own_write_result(ticket_id: int, reason: str | None = None) -> dict[str, Any]:
    return {"status": Outcome.OWN_WRITE, "ticket_id": ticket_id, "attempts": 1, "fired": [],
            "reasons": [reason or "the ticket is as tiergate's own last update left it: nothing new to decide"]}


def decide_ticket(rt: Runtime, enricher, fetched: Ticket, manifest, now: datetime, fired: frozenset[str],
                  parent: Ticket | None) -> tuple[Ticket, Enrichment, Decision]:
    """The one decision path (the worker's jobs and ``tiergate simulate``): the fetched ticket
    cleaned, enriched within the budgets, decided, each step with its fallbacks."""
    ticket = _cleaned(rt, fetched)
    enrichment = _enrich(rt, enricher, ticket, now)
    decision = _decide(rt, ticket, enrichment, manifest, now, fired, parent)
    return ticket, enrichment, with_score_fields(decision, enrichment, manifest)


def with_score_fields(decision: Decision, enrichment: Enrichment, manifest) -> Decision:
    """The decision with the attention score and the risk tags (space-separated, sorted) in the
    ticket fields the manifest names (``helpdesk.score_field`` / ``risk_field``, set by ``tiergate
    install``), riding in the one write the decision makes anyway: a decision that writes nothing
    still writes nothing."""
    helpdesk = getattr(manifest, "helpdesk", None)
    score_field, risk_field = getattr(helpdesk, "score_field", None), getattr(helpdesk, "risk_field", None)
    if not (score_field or risk_field) or not writes(decision):
        return decision
    values = dict(decision.update.custom_fields or {})
    if score_field:
        values.setdefault(str(score_field), int(round(enrichment.attention_score)))
    if risk_field:
        values.setdefault(str(risk_field), " ".join(sorted({r.tag for r in enrichment.risk_tags})))
    return dataclasses.replace(decision, update=dataclasses.replace(decision.update, custom_fields=values))


def writes(decision: Decision) -> bool:
    """Whether the decision is written to the helpdesk (an update that would only drop stale
    ``tg_fired_*`` mirror tags is not)."""
    return not (decision.update.is_empty() or state.only_mirror_cleanup(decision.update))


def _failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(clean_text(str(exc))[:160].split())}"


def _content_error(rt: Runtime, ticket_id: int, stage: str, exc: BaseException) -> None:
    log.error("content error ticket=%s stage=%s %s", ticket_id, stage, _failure(exc))
    rt.count("tiergate_jobs_total", {"kind": "content_error", "outcome": stage})


def _cleaned(rt: Runtime, ticket: Ticket) -> Ticket:
    """Every text of the ticket decodable, without control characters, HTML read as text."""
    try:
        return clean_ticket(ticket)
    except Exception as exc:  # noqa: BLE001 - enrichment below has its own fallbacks
        _content_error(rt, ticket.id, "clean", exc)
        return ticket


def _enrich(rt: Runtime, enricher, ticket: Ticket, now: datetime) -> Enrichment:
    """The enrichment of the text within the budgets (``bound_ticket``: the first and the latest
    50 comments, 200,000 characters; a cut is stated in a ``text_budget`` reason); else of a
    smaller copy; else of no text at all. ``decide`` still sees the whole ticket."""
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
    try:
        bounded, _ = bound_ticket(ticket)
        if bounded is ticket:
            return None
        return decide(bounded, enrichment, manifest, now, fired, parent=parent,
                      note_keys=rt.settings.note_secret)
    except Exception as exc:  # noqa: BLE001 - then the text-free view
        _content_error(rt, ticket.id, "decide_bounded", exc)
        return None


def parent(rt: Runtime, ticket: Ticket) -> Ticket | None:
    """The ticket this one follows up (or the problem it belongs to), for the handoff context."""
    parent_id = ticket.via_followup_source_id or ticket.problem_id
    if not parent_id:
        return None
    try:
        return _cleaned(rt, rt.connector.fetch_ticket(parent_id))
    except NotFound:
        return None


