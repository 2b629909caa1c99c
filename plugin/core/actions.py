"""Trigger actions -> effects, and the merge of all fired triggers' effects into one update.

Each fired trigger's actions append to one ``Effects`` accumulator; ``decide`` then resolves it:

* tags: union of adds, union of removes; a tag both added and removed is **added** (adding is
  the safer information); tags already in the wanted state are left out of the update;
* priority: the **highest** priority asked for wins;
* escalation: the candidate with the **highest rank** wins (tier ``order``; team ``rank``);
  ties go to the trigger listed first in the manifest. Exactly one owner results;
* notes and notifications: all kept, deduplicated by fingerprint.

Pure: templates are rendered with the sandboxed renderer; nothing here reads a clock.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from tiergate.plugin.core import sla
from tiergate.plugin.core.condition_facts import Facts, calendar_for
from tiergate.plugin.core.condition_fields import PRIORITIES
from tiergate.plugin.core.condition_reasons import explain_line
from tiergate.plugin.core.handoff import authority_note, page_facts
from tiergate.plugin.core.handoff_authority import KIND_LABELS
from tiergate.plugin.core.handoff_text import _bot_ids
from tiergate.plugin.core.model import Escalation, FiredTrigger, Note, Notification
from tiergate.plugin.core.templates import TemplateError, render

FIRED_TAG_PREFIX = "tg_fired_"
ONCALL_PAGED_TAG = "tg_oncall_paged"     # an escalation paged on-call after hours
AUTHORITY_WITHIN_TAG = "tg_authority_within"
AUTHORITY_ABOVE_TAG = "tg_authority_above"
CSM_TAG = "tg_csm_outreach"
GOODWILL_TAG = "tg_goodwill_credit"

DEFAULT_TEXTS = {
    "authority_within": (
        "Within your authority: the {{ kind }} of {{ amount }} the customer asks about. "
        "{{ tier }} may approve up to {{ limit }}, so you may approve it now; "
        "no escalation needed."),
    "authority_above": (
        "Above {{ tier }} authority: the {{ kind }} of {{ amount }} the customer asks about "
        "(limit {{ limit }}). Routed to {{ approver }} for approval."),
    "csm_outreach": (
        "Customer-success outreach suggested for {{ organization or 'this customer' }}: "
        "{{ reasons | join('; ') }}"),
    "goodwill_credit": (
        "Goodwill credit suggested: {{ amount_text }}. Why: {{ reasons | join('; ') }}"),
    # an on-call page carries the handoff's summary, wants, deadline and impact (``_page_facts``)
    "notify": ("[{{ trigger }}] ticket #{{ ticket.id }}: {{ ticket.subject }}\n"
               "Summary: {{ summary }}\n"
               "Customer wants: {{ wants }}\n"
               "Deadline: {{ deadline }}\n"
               "Impact: {{ impact }}\n"
               "{{ reasons | join('\n') }}"),
}


@dataclass(frozen=True)
class Candidate:
    """An escalation asked for by a trigger, before the merge picks one."""

    target: str            # tier or team name
    kind: str              # hierarchical | functional
    rank: int
    trigger: str
    trigger_index: int
    handoff_note: bool = True
    public_template: str | None = None
    why: str = ""


@dataclass
class Effects:
    add_tags: dict[str, None] = field(default_factory=dict)
    remove_tags: dict[str, None] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    priorities: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    # note fingerprint -> (trigger, action type) that wrote it
    note_sources: dict[str, tuple[str, str]] = field(default_factory=dict)


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


def with_footer(body: str, fp: str) -> str:
    return f"{body.rstrip()}\n\n[tiergate:{fp}]"


def money(amount: float | None, currency: str = "USD") -> str:
    if amount is None:
        return "n/a"
    sym = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, "")
    text = f"{amount:,.2f}".removesuffix(".00")
    return f"{sym}{text}" if sym else f"{text} {currency}"


def context(facts: Facts, trigger: str, fired: FiredTrigger | None, reasons: Sequence[str],
            **extra: Any) -> dict[str, Any]:
    t = facts.ticket
    tier, team = facts.position()
    m = facts.manifest
    owner = m.owner(tier or team or "") if (tier or team) else None
    return {
        "ticket": t, "enrichment": facts.enrichment, "trigger": trigger,
        "conditions": [c.to_dict() for c in fired.conditions] if fired else [],
        "held": [explain_line(c) for c in fired.conditions if c.held] if fired else [],
        "reasons": list(reasons), "tier": tier, "team": team,
        "owner_label": getattr(owner, "label", "") or (tier or team or "unassigned"),
        "organization": t.organization.name if t.organization else None,
        "now": facts.now.isoformat(), "risk_tags": list(facts.enrichment.tags),
        "attention_score": facts.enrichment.attention_score,
        "stakes": dict(facts.enrichment.stakes or {}), "language": facts.enrichment.language,
        **extra}


def render_note(manifest: Any, name: str | None, default_key: str, ctx: dict[str, Any]) -> str:
    source = (manifest.templates.get(name) if name else None) or DEFAULT_TEXTS[default_key]
    try:
        return render(source, ctx)
    except (TemplateError, TypeError, ValueError, AttributeError) as exc:
        # a template that fails at render time must not lose the decision
        return (f"(template '{name or default_key}' failed: {exc})\n"
                + "\n".join(ctx.get("reasons") or ()))


def _render_named(manifest: Any, name: str, ctx: dict[str, Any]) -> str:
    try:
        return render(manifest.templates[name], ctx)
    except (TemplateError, TypeError, ValueError, AttributeError, KeyError) as exc:
        return f"(template '{name}' failed: {exc})\n" + "\n".join(ctx.get("reasons") or ())


def owner_rank(manifest: Any, name: str) -> int:
    if name in manifest.tiers:
        return manifest.tiers[name].order
    team = manifest.teams.get(name)
    return team.rank if team is not None else -1


def resolve_up(manifest: Any, facts: Facts) -> str | None:
    """The tier one level above the ticket's current position (None at the top)."""
    tier, team = facts.position()
    chain = manifest.tier_chain()
    if tier is not None and tier in manifest.tiers:
        base = manifest.tiers[tier].order
    elif team is not None:
        base = manifest.teams[team].rank
    else:
        base = chain[0].order - 1 if chain else 0
    for t in chain:
        if t.order > base:
            return t.name
    return None


def episode(facts: Facts) -> int:
    """Identifies the current episode in fingerprints: comments by people so far (tiergate's own
    comments excluded by author, so a re-run after our own write yields the same fingerprints;
    marker text pasted by someone else changes nothing)."""
    def count(f: Facts) -> int:
        bots = _bot_ids(f.manifest)
        return sum(1 for c in f.ticket.comments if c.author_id not in bots)
    return facts.memo("episode", count)


def apply(action: Any, index: int, trig: Any, fired: FiredTrigger, facts: Facts,
          eff: Effects, reasons: Sequence[str]) -> None:
    """Append the effects of one action of a fired trigger (notes remember which trigger and
    action wrote them, in ``eff.note_sources``)."""
    before = len(eff.notes)
    try:
        _apply(action, index, trig, fired, facts, eff, reasons)
    finally:
        for n in eff.notes[before:]:
            eff.note_sources.setdefault(n.fingerprint, (trig.name, action.type))


def guidance(body: str) -> str:
    """A rule note's instruction for the handoff's next step: its text before the ``Why:`` line,
    without markers."""
    text = re.split(r"\n\s*Why:", body or "", maxsplit=1)[0]
    text = re.sub(r"\[tiergate[:-][^\]\n]*\]", "", text)
    return " ".join(text.split())


def _apply(action: Any, index: int, trig: Any, fired: FiredTrigger, facts: Facts,
           eff: Effects, reasons: Sequence[str]) -> None:
    m = facts.manifest
    t = facts.ticket
    name = trig.name
    kind = action.type
    fp = fingerprint(t.id, name, index, kind, getattr(action, "template", None), episode(facts))
    if kind == "add_tags":
        for tag in action.tags:
            eff.add_tags[tag] = None
    elif kind == "remove_tags":
        for tag in action.tags:
            eff.remove_tags[tag] = None
    elif kind == "set_priority":
        eff.priorities.append(action.priority)
    elif kind == "note":
        body = _render_named(m, action.template, context(facts, name, fired, reasons))
        eff.notes.append(Note(with_footer(body, fp), public=False, fingerprint=fp))
    elif kind == "public_update":
        eff.notes.append(public_update(action.template, action.commitment, facts, name, fired,
                                       reasons, fp))
    elif kind == "escalate":
        if action.to == "up":
            target = resolve_up(m, facts)
            if target is None:
                eff.reasons.append(f"{name}: escalate up skipped, already at the top tier")
                return
        else:
            target = action.to
        eff.candidates.append(Candidate(
            target, "functional" if target in m.teams else "hierarchical", owner_rank(m, target),
            name, trig.index, action.handoff_note, action.public_template))
    elif kind == "notify":
        route = m.oncall.routes[action.route]
        ctx = context(facts, name, fired, reasons)
        ctx.update(_page_facts(facts, name, route))
        body = render_note(m, action.template or route.template, "notify", ctx)
        eff.notifications.append(Notification(
            route=route.name, kind=route.kind, target=route.target,
            subject=f"[tiergate] {name}: ticket #{t.id} {t.subject}"[:200], body=body,
            fingerprint=fp))
    elif kind == "csm_outreach":
        for tag in action.tags or (CSM_TAG,):
            eff.add_tags[tag] = None
        body = render_note(m, action.template, "csm_outreach", context(facts, name, fired, reasons))
        eff.notes.append(Note(with_footer(body, fp), public=False, fingerprint=fp))
    elif kind == "goodwill_credit":
        for tag in action.tags or (GOODWILL_TAG,):
            eff.add_tags[tag] = None
        ctx = context(facts, name, fired, reasons, amount=action.amount,
                      amount_text=money(action.amount, m.authority.currency))
        body = render_note(m, action.template, "goodwill_credit", ctx)
        eff.notes.append(Note(with_footer(body, fp), public=False, fingerprint=fp))
    elif kind == "authority_check":
        authority_check(action, index, trig, fired, facts, eff, reasons)
    else:  # pragma: no cover - the schema rejects unknown actions
        raise ValueError(f"unknown action {kind!r}")


def authority_check(action: Any, index: int, trig: Any, fired: FiredTrigger, facts: Facts,
                    eff: Effects, reasons: Sequence[str]) -> None:
    m = facts.manifest
    auth = m.authority
    tier, team = facts.position()
    current = tier or (m.helpdesk.default_tier if team is None else None)
    owner = m.owner(current) if current else None
    tier_label = getattr(owner, "label", "") or current or "this team"
    amounts = facts.enrichment.amounts or {}
    kinds = action.kinds or ("refund", "discount", "credit")
    shared = _handoff_authority_note(action, facts, current)
    if shared is not None:
        eff.notes.append(shared)
    for kind in kinds:
        amount = amounts.get(kind)
        if kind == "money":     # money at stake in any phrasing (core.stakes), not a request word
            amount = (facts.enrichment.stakes or {}).get("money")
        if amount is None:
            continue
        limits = auth.limits.get(current) if current else None
        limit = (limits or {}).get(kind)
        lim = 0.0 if limit is None else float(limit)
        fp = fingerprint(facts.ticket.id, trig.name, index, kind, amount, episode(facts))
        approver = auth.approvers.get(kind) or (m.tier_chain()[-1].name if m.tiers else None)
        appr_owner = m.owner(approver) if approver else None
        ctx = context(facts, trig.name, fired, reasons, kind=KIND_LABELS.get(kind, kind),
                      mention="",
                      amount=money(amount, auth.currency), amount_value=amount,
                      limit=money(lim, auth.currency), limit_value=limit, tier=tier_label,
                      approver=getattr(appr_owner, "label", "") or approver or "",
                      approver_name=approver)
        if amount <= lim:
            body = render_note(m, action.template_within, "authority_within", ctx)
            eff.add_tags[AUTHORITY_WITHIN_TAG] = None
            if shared is None:
                eff.notes.append(Note(with_footer(body, fp), public=False, fingerprint=fp))
            eff.reasons.append(f"{trig.name}: {kind} {money(amount, auth.currency)} within "
                               f"{tier_label} authority ({money(lim, auth.currency)}): "
                               f"agent may approve, no escalation")
        else:
            body = render_note(m, action.template_above, "authority_above", ctx)
            eff.add_tags[AUTHORITY_ABOVE_TAG] = None
            if shared is None:
                eff.notes.append(Note(with_footer(body, fp), public=False, fingerprint=fp))
            if approver is not None:
                eff.candidates.append(Candidate(
                    approver, "functional" if approver in m.teams else "hierarchical",
                    owner_rank(m, approver), trig.name, trig.index,
                    why=f"{kind} {money(amount, auth.currency)} above {tier_label} limit "
                        f"{money(lim, auth.currency)}"))


def _page_facts(facts: Facts, trigger: str, route: Any) -> dict[str, str]:
    """The handoff's summary, wants, deadline and impact for a page (``oncall_page``)."""

    esc = Escalation(None, route.name, "hierarchical", getattr(route, "group_id", None),
                     getattr(route, "owner_id", None), trigger)
    return page_facts(facts.ticket, facts.enrichment, esc, (), facts.manifest, facts.now)


def _handoff_authority_note(action: Any, facts: Facts, tier: str | None) -> Note | None:
    """The handoff area's authority note (one note for every amount with a limit), if any."""
    if tier is None:
        return None
    wanted = set(action.kinds or ("refund", "discount", "credit"))
    asked = facts.enrichment.amounts or {}
    amounts = {k: v for k, v in asked.items() if k in wanted}
    money = (facts.enrichment.stakes or {}).get("money") if "money" in wanted else None
    if isinstance(money, (int, float)) and not isinstance(money, bool):
        # money at stake that is the refund / credit / discount asked for is that request: one
        # note (same fingerprint) whichever rule checks it
        same = [k for k, v in asked.items() if abs(float(v) - float(money)) < 0.005]
        amounts[same[0] if same else "money"] = asked[same[0]] if same else money
    if not amounts:
        return None
    enrichment = dataclasses.replace(facts.enrichment, amounts=amounts)
    return authority_note(facts.ticket, enrichment, facts.manifest, facts.now, tier=tier,
                          template_within=action.template_within,
                          template_above=action.template_above)


def public_update(template: str, commitment: str, facts: Facts, trigger: str,
                  fired: FiredTrigger, reasons: Sequence[str], fp: str) -> Note:
    """A public reply promising the next update: ``update_by`` is computed from now and the
    commitments calendar (rounded up to the quarter hour), and the sla marker records it."""
    m = facts.manifest
    due, marker = _commitment(m, commitment, facts.now)
    tz = _commitment_tz(m)
    local = due.astimezone(tz)
    same_day = local.date() == facts.now.astimezone(tz).date()
    update_by = local.strftime("%H:%M") if same_day else local.strftime("%a %d %b %H:%M")
    zone = local.tzname() or "UTC"
    ctx = context(facts, trigger, fired, (), update_by=f"{update_by} {zone}",
                  update_by_iso=due.isoformat())
    body = _render_named(m, template, ctx)
    if marker:
        body = f"{body.rstrip()}\n\n{marker}"
    return Note(with_footer(body, fp), public=True, fingerprint=fp)


def _commitment(manifest: Any, kind: str, now: datetime) -> tuple[datetime, str]:
    try:
        due = sla.commitment_due(manifest, kind, now)
        due = _round_up(due, 15)
        return due, sla.commitment_marker(kind, due)
    except (AttributeError, KeyError):
        minutes = 30 if kind == "ack" else 120
        return _round_up(now + timedelta(minutes=minutes), 15), ""


def _commitment_tz(manifest: Any):
    c = getattr(getattr(manifest, "sla", None), "commitments", None)
    name = getattr(c, "calendar", None) or getattr(manifest.sla, "default_calendar", None) \
        or manifest.helpdesk.default_calendar
    cal = manifest.calendars.get(name) if name else None
    return cal.tz if cal is not None else timezone.utc


def _round_up(at: datetime, minutes: int) -> datetime:
    step = minutes * 60
    ts = at.timestamp()
    rounded = -(-ts // step) * step
    return datetime.fromtimestamp(rounded, tz=timezone.utc)


def top_priority(wanted: Sequence[str]) -> str | None:
    ranked = [p for p in wanted if p in PRIORITIES]
    return max(ranked, key=PRIORITIES.index) if ranked else None


def pick_escalation(cands: Sequence[Candidate]) -> Candidate | None:
    """Highest rank wins; ties go to the trigger listed first."""
    if not cands:
        return None
    return sorted(cands, key=lambda c: (-c.rank, c.trigger_index))[0]


def owner_is_open(manifest: Any, name: str, facts: Facts) -> tuple[bool, str | None]:
    owner = manifest.owner(name)
    cal_name = getattr(owner, "calendar", None)
    cal = calendar_for(manifest, cal_name or None, None)
    return cal.is_open(facts.now), cal_name or manifest.helpdesk.default_calendar


__all__ = ["Effects", "Candidate", "apply", "pick_escalation", "top_priority", "fingerprint",
           "with_footer", "money", "resolve_up",
           "owner_is_open", "FIRED_TAG_PREFIX", "DEFAULT_TEXTS", "episode"]
