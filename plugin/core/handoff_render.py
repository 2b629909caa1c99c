"""Rendering a handoff note: facts and thread extracts -> template context -> body with marker.

``handoff_body(...)`` reads the thread once (``extract``), computes the ``NoteFacts`` once, then
renders the manifest's ``handoff`` template (built-in default in ``handoff_templates``) at
shrinking quote lengths until the body and its marker fit the comment size limit.
``default_episode`` numbers the times the ticket left the target group (tiergate's own write
never changes it, so a re-run yields the same fingerprint).
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Sequence

from tiergate.plugin.core import handoff_sections as S
from tiergate.plugin.core.handoff_authority import _fit
from tiergate.plugin.core.handoff_facts import NoteFacts, note_facts
from tiergate.plugin.core.handoff_marker import marker
from tiergate.plugin.core.handoff_templates import SECTIONS
from tiergate.plugin.core.handoff_text import (SUBJECT_CHARS, _bot_ids, _clock_time, _currency,
                                               _find_tier, _mention, _people, _render, _required,
                                               clip, code, escape, quote, _ago, _channel)
from tiergate.plugin.core.handoff_thread import (Item, _Ctx, _evidence, _handoff_fields,
                                                 _macros, _promises, _thread, _tried,
                                                 _users_affected, _is_customer)
from tiergate.plugin.core.model import ClockState, Enrichment, Escalation, Ticket

def default_episode(ticket: Ticket, escalation: Escalation) -> int:
    """How many times the ticket left the target group before: a new episode of the same
    escalation needs the ticket to have left it, and tiergate's own write never does."""
    if escalation.group_id is None:
        return 0
    return sum(1 for ch in ticket.changes or ()
               if ch.field == "group_id" and ch.old == escalation.group_id
               and ch.new != escalation.group_id)


def _parent_relation(ticket: Ticket) -> tuple[int | None, str]:
    if ticket.via_followup_source_id:
        return ticket.via_followup_source_id, "Follow-up of"
    for c in ticket.comments or ():
        m = re.search(r"(?:request|ticket) #(\d+) (?:was closed and )?merged into this", c.body or "",
                      re.I)
        if m:
            return int(m.group(1)), "Merged from"
    if ticket.problem_id:
        return ticket.problem_id, "Linked to problem"
    return None, ""


def extract(ticket: Ticket, manifest: Any, parent: Ticket | None) -> dict[str, Any]:
    """Everything read from the thread(s), once per note (formatting happens per trim level)."""
    bots = frozenset(_bot_ids(manifest))
    people = _people(manifest)
    ctx = _Ctx("", bots, people)
    pctx = _Ctx(f"#{parent.id}", bots, people) if parent is not None else None
    required = _required(manifest)
    sources: dict[str, str] = {}
    fields = _handoff_fields(ticket, ctx, required, sources)

    tried: list[Item] = []
    if fields.get("steps"):
        tried.append(Item(fields["steps"], sources["steps"], "plain"))
    macros = _macros(ticket, manifest)
    if macros:
        tried.append(Item("Macros applied: " + ", ".join(code(m) for m in macros[:6]), "", "pre"))
    tried += _tried(ticket, ctx)
    evidence: list[Item] = []
    if fields.get("logs"):
        evidence.append(Item(fields["logs"], sources["logs"], "plain", rank=-1))
    seen: set[str] = set()
    evidence += _evidence(ticket, ctx, seen)
    promises = _promises(ticket, ctx)
    users = _users_affected(ticket, ctx, manifest)
    if parent is not None and pctx is not None:
        tried += _tried(parent, pctx)
        evidence += _evidence(parent, pctx, seen)
        evidence.sort(key=lambda i: i.rank)
        if ticket.via_followup_source_id:
            promises = _promises(parent, pctx) + promises
        if users is None:
            users = _users_affected(parent, pctx, manifest)
    impact = Item(fields["impact"], sources["impact"], "plain") if fields.get("impact") else None
    return {"tried": tried, "evidence": evidence, "promises": promises, "users": users,
            "impact": impact,
            "customer_comments": [c for c in _thread(ticket) if _is_customer(c, ticket)]}


_TRIM_LEVELS = ((200, 6), (140, 5), (90, 4), (50, 3), (30, 2))


def _promise_lines(ex: dict[str, Any], now: datetime, n: int, k: int) -> list[str]:
    out = []
    for p in ex["promises"][-k:]:
        if p.due is None:
            when = "no deadline stated"
        elif p.due < now:
            when = f"**OVERDUE** since {_clock_time(p.due, now)} ({_ago(p.due, now)})"
        else:
            when = (f"due {_clock_time(p.due, now)} ({_ago(p.due, now)})" if p.timed
                    else f"due by end of {p.due.strftime('%a %b %d').replace(' 0', ' ')}")
        out.append(f"{p.text.fmt(n)} ({p.source}): {when}")
    return out


def _thread_lines(ticket: Ticket, parent: Ticket | None, facts: NoteFacts, now: datetime,
                  n: int) -> list[str]:
    out: list[str] = []
    contacts = facts.contacts
    if contacts:
        first = contacts[0]
        out.append(f"First ({_channel(first)}): {quote(first.body, n)}")
        if len(contacts) > 1:
            last = contacts[-1]
            out.append(f"Latest ({_channel(last)}, {_ago(last.created_at, now)}): "
                       f"{quote(last.body, n)}")
    parent_id, relation = _parent_relation(ticket)
    if parent_id is not None:
        if parent is not None and parent.id == parent_id:
            out.append(f"{relation} #{parent.id} {quote(parent.subject, 80)} "
                       f"({escape(parent.status)}); its context is included above, "
                       f"marked #{parent.id}")
        else:
            out.append(f"{relation} #{parent_id} (open it for earlier context)")
    return out


def _tried_lines(ex: dict[str, Any], n: int, k: int) -> list[str]:
    return [i.fmt(n) for i in ex["tried"][:k]] or [S.NOTHING_YET]


def context(ticket: Ticket, enrichment: Enrichment | None, escalation: Escalation, fired: Any,
            clocks: Sequence[ClockState], manifest: Any, now: datetime, parent: Ticket | None,
            n: int, k: int, ex: dict[str, Any], facts: NoteFacts, fp: str,
            reason_override: list[str] | None = None,
            guidance: Sequence[str] = ()) -> dict[str, Any]:
    """The ``handoff`` template's variables (``TEMPLATE_VARIABLES["handoff"]``)."""
    currency = _currency(manifest)
    to_tier = _find_tier(manifest, name=escalation.to_tier, group_id=escalation.group_id)
    from_tier = _find_tier(manifest, name=escalation.from_tier) if escalation.from_tier else None
    to_label = to_tier.label if to_tier else escalation.to_tier
    from_label = from_tier.label if from_tier else (escalation.from_tier or "")
    mention = _mention(manifest, facts.owner_tier or to_tier, escalation.owner_id,
                       escalation.to_tier)
    owner_line = (f"{mention}: you own this ticket from now on. Everything the customer has told "
                  f"us is below, so please don't ask them to repeat it.")
    reason = reason_override if reason_override is not None else S._reason_lines(
        escalation, fired, manifest, from_label, to_label)
    users = ex["users"].fmt(n) if ex["users"] else None
    impact_field = ex["impact"].fmt(n) if ex["impact"] else None
    ctx: dict[str, Any] = {
        "owner_line": owner_line,
        "summary": [S.summary_text(ticket, enrichment, facts, now)],
        "wants": S.want_lines(facts, ticket, now, n),
        "deadline": S.deadline_lines(facts, now, n),
        "impact": S.impact_lines(ticket, enrichment, facts, users, impact_field, currency, now),
        "tried": _tried_lines(ex, n, k),
        "why": S.why_lines(ticket, enrichment, reason, n),
        "sla": S.sla_section(clocks, now),
        "owner": S.owner_lines(facts, escalation, guidance, now),
        "approver": S.approver_lines(facts, currency),
        "evidence": [i.fmt(n) for i in ex["evidence"][:k + 2]],
        "promises": _promise_lines(ex, now, n, k),
        "risk": S._risk_lines(ticket, enrichment, n),
        "thread": _thread_lines(ticket, parent, facts, now, n),
        "fingerprint": fp,
        "ticket": {"id": ticket.id, "subject": escape(clip(ticket.subject, SUBJECT_CHARS)),
                   "priority": ticket.priority, "status": ticket.status},
        "escalation": {"trigger": escalation.trigger, "to_tier": escalation.to_tier,
                       "from_tier": escalation.from_tier, "kind": escalation.kind},
        "facts": {"contacts": facts.contact_count,
                  "owner": facts.owner_name or facts.owner_label,
                  "owner_group": facts.owner_label,
                  "approver": facts.approver.person or facts.approver.label
                  if facts.approver else None,
                  "previous_handoffs": len(facts.handoffs),
                  "deadline": facts.deadline},
    }
    ctx["reason"] = ctx["why"]
    ctx["customer"] = ctx["impact"]
    ctx["authority"] = ctx["approver"]
    ctx["sections"] = [{"key": key, "title": title, "lines": ctx[key]} for key, title in SECTIONS]
    return ctx


def handoff_body(ticket: Ticket, enrichment: Enrichment | None, escalation: Escalation,
                 fired: Any, clocks: Sequence[ClockState], manifest: Any, now: datetime,
                 parent: Ticket | None, fp: str, limit: int,
                 reason_override: list[str] | None = None, guidance: Sequence[str] = (),
                 keys: Sequence[bytes] | None = None) -> str:
    ex = extract(ticket, manifest, parent)
    facts = note_facts(ticket, enrichment, escalation, clocks, manifest, now)
    mark = marker(fp, keys)
    body = ""
    for n, k in _TRIM_LEVELS:
        body = _render(manifest, "handoff", context(
            ticket, enrichment, escalation, fired, clocks, manifest, now, parent, n, k, ex,
            facts, fp, reason_override, guidance))
        if len((body + "\n\n" + mark).encode()) <= limit:
            break
    return _fit(body, mark, limit)


__all__ = ["handoff_body", "context", "extract", "default_episode", "_parent_relation"]
