"""Post-escalation review: a seeded monthly sample, review records, and a Markdown postmortem.

Which escalation: a ticket's first escalation in the month. Its outcome, judged from what the
decision log observed afterwards:

- **accepted**: the ticket is (or was resolved) in the tier it was escalated to, or in a tier a
  later escalation sent it to, and an agent acted there (an agent comment after the escalation,
  tiergate's own notes not counted).
- **deferred**: the ticket was sent back (it is, or was resolved, in another tier), or it was
  resolved with no agent comment after the escalation (resolved without acting on it).
- **pending**: still open in the target tier with nobody acting yet; not sampled.

The sample draws up to 3 accepted and 3 deferred escalations with ``random.Random(f"{seed}:{month}")``
over the candidates ordered by (helpdesk, ticket id): the same seed and log give the same sample.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.analytics.log_rows import DecisionRow, ReviewRow, TicketFacts
from tiergate.plugin.analytics.metrics import month_of, parse_month
from tiergate.plugin.analytics.report import fmt_minutes
from tiergate.plugin.core.model import parse_time

ROOT_CAUSES = ("knowledge_gap", "missing_kb_article", "product_bug", "process_gap", "misrouted",
               "tooling_or_permissions", "customer_request", "policy_exception", "other")
FOLLOW_UPS = ("training", "knowledge_base", "product_bug", "none")
FOLLOW_UP_STATUSES = ("open", "in_progress", "done", "wont_do")
PER_KIND = 3


@dataclass(frozen=True)
class Candidate:
    facts: TicketFacts
    escalation: DecisionRow
    outcome: str          # accepted | deferred | pending
    why: str

    @property
    def key(self) -> tuple[str, int]:
        return self.facts.key


def classify(f: TicketFacts, escalation: DecisionRow,
             tier_of: Callable[[int | None], str | None]) -> tuple[str, str]:
    """(outcome, reason) of one escalation, by the definitions in the module docstring."""
    later = [d for d in f.escalations if d.at >= escalation.at]
    kept_tiers = {d.to_tier for d in later if d.to_tier}
    resolved = f.solved_at is not None
    tier = f.resolved_tier if resolved and f.resolved_tier else tier_of(f.group_id)
    acted = f.last_agent_comment_at is not None and f.last_agent_comment_at > escalation.at
    where = "resolved in" if resolved else "now in"
    if tier is not None and tier not in kept_tiers:
        return "deferred", f"sent back: {where} {tier}, escalated to {escalation.to_tier}"
    if resolved and not acted:
        return "deferred", f"resolved in {tier or escalation.to_tier} without an agent acting after the escalation"
    if tier is None:
        return "pending", "tier unknown"
    if acted:
        return "accepted", f"{where} {tier}, worked there after the escalation"
    return "pending", f"open in {tier}, nobody acted yet"


def candidates(facts: Sequence[TicketFacts], month: str,
               tier_of: Callable[[int | None], str | None]) -> list[Candidate]:
    parse_month(month)
    out = []
    for f in sorted(facts, key=lambda x: x.key):
        first = next((d for d in f.escalations if month_of(d.at) == month), None)
        if first is None:
            continue
        outcome, why = classify(f, first, tier_of)
        out.append(Candidate(f, first, outcome, why))
    return out


def sample(found: Sequence[Candidate], month: str, seed: int | str = 0,
           per_kind: int = PER_KIND) -> list[Candidate]:
    """Up to ``per_kind`` accepted then up to ``per_kind`` deferred escalations, reproducibly."""
    rng = random.Random(f"{seed}:{month}")
    chosen: list[Candidate] = []
    for kind in ("accepted", "deferred"):
        pool = sorted((c for c in found if c.outcome == kind), key=lambda c: c.key)
        picked = rng.sample(pool, min(per_kind, len(pool)))
        chosen.extend(sorted(picked, key=lambda c: c.key))
    return chosen


def draw(log: DecisionLog, month: str, seed: int | str = 0, per_kind: int = PER_KIND,
         *, store: bool = True) -> list[Candidate]:
    """Sample one month's escalations and (``store``) queue a review record for each."""
    period = parse_month(month)
    facts = log.facts(None, period.end)       # opened before the month ends
    chosen = sample(candidates([f for f in facts if any(period.start <= d.at < period.end
                                                          for d in f.escalations)],
                               month, log.tier_of), month, seed, per_kind)
    if store:
        for c in chosen:
            log.upsert_review(c.facts.helpdesk, c.facts.ticket_id, month, sample=c.outcome,
                              seed=str(seed), decision_id=c.escalation.id)
    return chosen


def _choice(name: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if value is None:
        return None
    value = value.strip().lower().replace("-", "_").replace(" ", "_")
    if value not in allowed:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


def record_review(log: DecisionLog, helpdesk: str, ticket_id: int, *, month: str | None = None,
                  necessary: bool | None = None, lower_tier_could_resolve: bool | None = None,
                  root_cause: str | None = None, follow_up: str | None = None,
                  follow_up_status: str | None = None, customer_impact: str | None = None,
                  preventive_steps: str | None = None, notes: str | None = None,
                  reviewer: str | None = None, level: int | None = None) -> ReviewRow:
    """Store the review of one escalated ticket (month: of its first escalation by default).
    ``level``: how far it should have been escalated (0: not at all), a training label."""
    if level is not None and not (isinstance(level, int) and 0 <= level <= 9):
        raise ValueError(f"level: must be a whole number 0..9, got {level!r}")
    f = log.ticket(helpdesk, ticket_id)
    if f is None:
        raise ValueError(f"ticket: #{ticket_id} on {helpdesk} is not in the decision log")
    if not f.escalations:
        raise ValueError(f"ticket: #{ticket_id} on {helpdesk} was never escalated")
    if month is None:
        month = month_of(f.escalations[0].at)
    else:
        parse_month(month)
    values = dict(
        status="reviewed", necessary=necessary, lower_tier_could_resolve=lower_tier_could_resolve,
        root_cause=_choice("root_cause", root_cause, ROOT_CAUSES),
        follow_up=_choice("follow_up", follow_up, FOLLOW_UPS),
        follow_up_status=_choice("follow_up_status", follow_up_status, FOLLOW_UP_STATUSES),
        customer_impact=customer_impact, preventive_steps=preventive_steps, notes=notes, reviewer=reviewer,
        level=level)
    if values["follow_up"] not in (None, "none") and values["follow_up_status"] is None:
        values["follow_up_status"] = "open"
    return log.upsert_review(helpdesk, ticket_id, month, **values)


# -- postmortem ---------------------------------------------------------------------------------
def _t(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def _line(text: str | None) -> str:
    return " ".join((text or "").split())


def _yesno(v: bool | None) -> str:
    return "not recorded" if v is None else ("yes" if v else "no")


def postmortem_markdown(log: DecisionLog, helpdesk: str, ticket_id: int, month: str | None = None) -> str:
    """A Markdown postmortem of one escalated ticket: impact, evidence, timeline, prevention."""
    f = log.ticket(helpdesk, ticket_id)
    if f is None:
        raise ValueError(f"ticket: #{ticket_id} on {helpdesk} is not in the decision log")
    reviews = [r for r in log.reviews() if r.helpdesk == helpdesk and r.ticket_id == int(ticket_id)]
    if month:
        reviews = [r for r in reviews if r.month == month]
    review = reviews[-1] if reviews else None
    first = f.first_escalation
    minutes = lambda a, b: (b - a).total_seconds() / 60 if a and b else None  # noqa: E731
    outcome = classify(f, first, log.tier_of) if first else ("not escalated", "")

    out = [f"# Postmortem: ticket #{f.ticket_id} — {_line(f.subject) or '(no subject)'}", ""]
    out += [f"- Helpdesk: {f.helpdesk}", f"- Status: {f.status or '-'}; priority {f.priority or '-'}; "
            f"type {f.type or '-'}; channel {f.channel or '-'}",
            f"- Escalation outcome: **{outcome[0]}**" + (f" ({outcome[1]})" if outcome[1] else ""),
            f"- Review: {review.status if review else 'none'}" + (f" ({review.month}, sample {review.sample})" if review else ""),
            ""]
    out += ["## Customer impact", ""]
    who = f.organization + (f" ({f.segment})" if f.segment else "") if f.organization else "unknown organization"
    out += [f"- Customer: {who}",
            f"- Time to escalation: {fmt_minutes(minutes(f.opened_at, first.at) if first else None)}",
            f"- Time to resolution: {fmt_minutes(minutes(f.opened_at, f.solved_at))}"
            + ("" if f.solved_at else " (still open)"),
            f"- Reopened: {f.reopens} time(s); handoffs between groups: {f.handoffs}",
            f"- Satisfaction: {f.satisfaction or 'not rated'}",
            "- SLA at escalation: " + (("breached" if first.sla_breached else
                                           f"{first.sla_max_pct:.0f}% of target elapsed" if first.sla_max_pct is not None
                                           else "no clock") if first else "-")]
    if review and review.customer_impact:
        out.append(f"- Reviewer: {_line(review.customer_impact)}")
    out += ["", "## Evidence", ""]
    if not f.decisions:
        out.append("- No decision recorded.")
    for d in f.decisions:
        if not (d.triggers or d.escalated):
            continue
        head = f"- {_t(d.at)}: fired {', '.join(d.triggers) or '-'}"
        if d.escalated:
            head += f"; escalated {d.from_tier or '?'} → {d.to_tier} ({d.kind})"
        out.append(head + f"; attention {d.attention_score}; manifest {d.manifest_version}")
        if d.risk_tags:
            out.append(f"  - risk tags: {', '.join(d.risk_tags)}")
        for reason in d.reasons:
            out.append(f"  - {_line(reason)}")
        for s in d.signals:
            out.append(f"  - signal {s.get('signal')}: {s.get('points', 0):+.0f} ({_line(s.get('detail'))})")
    out += ["", "## Timeline", ""]
    events: list[tuple[datetime, str]] = []
    if f.opened_at:
        events.append((f.opened_at, "ticket created"))
    def named(fld, value):
        tier = log.tier_of(value) if fld == "group_id" and isinstance(value, int) else None
        return f"{value} ({tier})" if tier else str(value)

    for c in f.changes:
        at, fld = c.get("at"), c.get("field")
        if at:
            label = {"group_id": "group", "assignee_id": "assignee"}.get(fld, fld)
            events.append((parse_time(at), f"{label}: {named(fld, c.get('old'))} → {named(fld, c.get('new'))}"))
    for d in f.decisions:
        if d.escalated:
            events.append((d.at, f"tiergate escalated {d.from_tier or '?'} → {d.to_tier} (trigger {d.trigger})"))
        elif d.triggers:
            events.append((d.at, f"tiergate fired {', '.join(d.triggers)}"))
    if f.solved_at and not any("status" in e[1] and "solved" in e[1] for e in events):
        events.append((f.solved_at, "resolved"))
    for at, what in sorted(events, key=lambda e: e[0]):
        out.append(f"- {_t(at)} — {what}")
    out += ["", "## Review", ""]
    if review is None or review.status != "reviewed":
        out.append("_Not reviewed yet._")
    else:
        out += [f"- Was the escalation necessary: {_yesno(review.necessary)}",
                f"- Could a lower tier have resolved it: {_yesno(review.lower_tier_could_resolve)}",
                f"- Root cause: {review.root_cause or 'not recorded'}",
                f"- Reviewer: {review.reviewer or '-'}"]
        if review.notes:
            out.append(f"- Notes: {_line(review.notes)}")
    out += ["", "## Preventive steps", ""]
    if review and review.follow_up and review.follow_up != "none":
        out.append(f"- [{'x' if review.follow_up_status == 'done' else ' '}] Follow-up: "
                   f"{review.follow_up.replace('_', ' ')} — {review.follow_up_status or 'open'}")
    if review and review.preventive_steps:
        for step in review.preventive_steps.splitlines():
            if step.strip():
                out.append(f"- {step.strip().lstrip('-* ').strip()}")
    if not (review and ((review.follow_up and review.follow_up != "none") or review.preventive_steps)):
        out.append("_None recorded yet._")
    return "\n".join(out) + "\n"
