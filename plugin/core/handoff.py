"""Warm handoffs: the internal note a new owner reads once and can act on.

Pure: no I/O, no clock reads (``now`` is passed in). Public API:

- ``handoff_note(ticket, enrichment, escalation, fired, clocks, manifest, now, *, parent=None,
  episode=None, limit=None, guidance=(), keys=None) -> Note``: the internal note addressed to
  the escalation's owner. Its sections, in order, each present even when empty: summary, what
  the customer wants, deadline, impact, what was tried, why it escalated, SLA, owner and next
  step, approver; then errors/logs, promises, risk signals and the conversation when there are
  any. Every fact is computed from the ticket (``handoff_facts``), not from the rule that fired.
  ``guidance``: the firing rule's own instructions, shown as the next step.
- ``warm_reply(...) -> Note | None``: the optional public reply (who has the case, when the next
  update comes); never a trigger, score, tag, internal reason or marker.
- ``handoff_notes(...)``: the internal note, then the warm reply when the manifest enables it.
- ``page_facts(ticket, enrichment, escalation, clocks, manifest, now) -> dict``: summary, wants,
  deadline and impact as one line each, for on-call pages.
- ``authority_checks`` / ``authority_note`` (``handoff_authority``), ``manual_escalation_update``
  and friends (``handoff_manual``), ``parse_handoff_comment`` (``handoff_thread``).
- Stale notes (``handoff_supersede``): a handoff note carries a signed step line; when its
  facts change before anyone acts, ``decide`` writes one note that replaces it.
- Markers (``handoff_marker``): ``fingerprint``, ``seal``, ``trusted_fingerprints``,
  ``suspect_markers``, ``marker_keys``; ``answered_since_customer`` tells whether a person (or
  tiergate) already replied publicly after the customer's latest message.

Manifest (read defensively from a ``Manifest`` or a plain dict): ``tiers`` / ``teams`` (name,
``label``, ``group_id``, owner, ``public_name``, ``warm_reply``), ``authority`` (``currency``,
``limits[tier][kind]``, ``approvers[kind]``), ``helpdesk.bot_user_id`` (default 299), agent
names (``helpdesk.agents``), and the ``handoff`` block: ``public_reply`` (false), ``required``
(["steps", "logs", "impact"]), ``next_update_minutes`` (240), ``comment_limit`` (65536 bytes),
``note_on_manual`` (true), ``currency``. Templates: manifest ``templates`` over the built-ins of
``handoff_templates`` (``handoff``, ``handoff_missing``, ``handoff_public``,
``authority_within``, ``authority_above``, ``oncall_page``).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Sequence

from tiergate.plugin.core.handoff_authority import (Approver, AuthorityCheck, _fit, _limit,
                                                    authority_checks, authority_note)
from tiergate.plugin.core.handoff_facts import note_facts
from tiergate.plugin.core.handoff_manual import (ManualHandoff, latest_manual_change,
                                                 manual_escalation_update, missing_context)
from tiergate.plugin.core.handoff_marker import (fingerprint, marker_keys, public_text, seal,
                                                 suspect_markers, trusted_fingerprints)
from tiergate.plugin.core.handoff_render import default_episode, handoff_body
from tiergate.plugin.core import handoff_sections as S
from tiergate.plugin.core.handoff_templates import (DEFAULT_TEMPLATES, REQUIRED_VARIABLES,
                                                    SECTIONS, TEMPLATE_VARIABLES,
                                                    required_problems)
from tiergate.plugin.core.handoff_text import (BOT_USER_ID, DEFAULT_NEXT_UPDATE_MINUTES,
                                               DEFAULT_REQUIRED, INCOMPLETE_TAG,
                                               ZENDESK_COMMENT_LIMIT, TierInfo, _bot_ids,
                                               _currency, _find_tier, _first, _people, _render,
                                               _settings, escape)
from tiergate.plugin.core.handoff_thread import (_Ctx, _is_customer, _promises,  # noqa: F401
                                                 _resolve_due, parse_handoff_comment)
from tiergate.plugin.core.model import (ClockState, Enrichment, Escalation, FiredTrigger, Note,
                                        Ticket)


def handoff_note(ticket: Ticket, enrichment: Enrichment | None, escalation: Escalation,
                 fired: Sequence[FiredTrigger] | FiredTrigger | None,
                 clocks: Sequence[ClockState] | None, manifest: Any, now: datetime, *,
                 parent: Ticket | None = None, episode: Any = None, limit: int | None = None,
                 guidance: Sequence[str] = (), keys: Sequence[bytes] | None = None) -> Note:
    """The internal handoff note for ``escalation`` (addressed to its one owner).

    ``fired``: the FiredTrigger of this escalation, or all triggers fired by the decision.
    ``episode``: decide's episode counter if it has one; default ``default_episode``.
    ``limit``: max body bytes (default manifest ``handoff.comment_limit`` or 64 KB).
    ``keys``: marker secrets, newest first (``marker_keys``)."""
    ep = default_episode(ticket, escalation) if episode is None else episode
    fp = fingerprint(ticket.id, escalation.trigger, escalation.to_tier, ep)
    return Note(body=handoff_body(ticket, enrichment, escalation, fired, clocks or (), manifest,
                                  now, parent, fp, _limit(manifest, limit), guidance=guidance,
                                  keys=keys),
                public=False, fingerprint=fp)


# -- warm public reply ---------------------------------------------------------------------------
def _public_enabled(manifest: Any, tier: TierInfo | None) -> bool:
    if tier is not None and tier.warm_reply is not None:
        return bool(tier.warm_reply)
    return bool(_first(_settings(manifest), "public_reply", "warm_reply"))


def _public_team(tier: TierInfo | None, fallback: str) -> str:
    if tier is not None and tier.public_name:
        name = str(tier.public_name)
        return name if name.lower().startswith(("our ", "the ")) else f"our {name}"
    label = tier.label if tier else fallback
    label = re.sub(r"^\s*tier\s*\d+\s*[-:]?\s*", "", label, flags=re.I).strip() or "support"
    return f"our {label} team" if "team" not in label.lower() else f"our {label}"


def next_update_at(ticket: Ticket, clocks: Sequence[ClockState], manifest: Any,
                   now: datetime) -> datetime:
    """When the customer hears from us next: the earliest of the running reply/update clocks'
    due instants, an open promise, and ``handoff.next_update_minutes`` (default 4 h) from now."""
    default = now + timedelta(minutes=float(_first(_settings(manifest), "next_update_minutes")
                                            or DEFAULT_NEXT_UPDATE_MINUTES))
    candidates = [default]
    for c in clocks or ():
        if (c.metric in ("first_reply_time", "next_reply_time", "periodic_update_time",
                         "pausable_update_time", "acknowledgement", "response_window")
                and not c.paused and not c.breached and c.due_at and c.due_at > now):
            candidates.append(c.due_at)
    ctx = _Ctx("", frozenset(_bot_ids(manifest)), {})
    for p in _promises(ticket, ctx):
        if p.due is not None and p.timed and p.due > now:
            candidates.append(p.due)
    due = min(candidates)
    # round up to a quarter hour: a promise a person can keep
    extra = (-due.minute) % 15
    return (due + timedelta(minutes=extra)).replace(second=0, microsecond=0)


def warm_reply(ticket: Ticket, escalation: Escalation, clocks: Sequence[ClockState] | None,
               manifest: Any, now: datetime, *, template: str | None = None, episode: Any = None,
               limit: int | None = None) -> Note | None:
    """The optional public reply: sent when ``template`` (a manifest template name, e.g. an
    escalate action's ``public_template``) is given, or when the manifest enables it
    (``handoff.public_reply`` or the tier's ``warm_reply``) with template ``handoff_public``.
    Only the team's public name, the owner's first name and the next update time reach the
    template: never the trigger, scores, tags or any internal reason."""
    tier = _find_tier(manifest, name=escalation.to_tier, group_id=escalation.group_id)
    if template is None and not _public_enabled(manifest, tier):
        return None
    ep = default_episode(ticket, escalation) if episode is None else episode
    fp = fingerprint(ticket.id, escalation.trigger, escalation.to_tier, ep, kind="public")
    people = _people(manifest)
    owner_id = escalation.owner_id
    if owner_id is None and tier is not None:
        owner_id = tier.owner_id
    name = people.get(owner_id) if owner_id is not None else None
    first_name = escape(name.split()[0]) if name else ""
    team = escape(_public_team(tier, escalation.to_tier))
    due = next_update_at(ticket, clocks or (), manifest, now)
    when = due.strftime("%H:%M UTC")
    if due.date() != now.date():
        when = due.strftime("%A %H:%M UTC" if (due - now).days < 6 else "%b %d %H:%M UTC")
        next_update = f"by {when}"
    else:
        next_update = f"by {when} today"
    ctx = {"owner_phrase": f"{first_name} from" if first_name else "a specialist from",
           "owner_first_name": first_name, "team": team, "next_update": next_update,
           "update_by": next_update.removeprefix("by "), "ticket": {"id": ticket.id}}
    body = _render(manifest, template or "handoff_public", ctx, "handoff_public", public=True)
    return Note(body=public_text(_fit(body, "", _limit(manifest, limit))), public=True,
                fingerprint=fp)


def handoff_notes(ticket: Ticket, enrichment: Enrichment | None, escalation: Escalation,
                  fired: Any, clocks: Sequence[ClockState] | None, manifest: Any, now: datetime, *,
                  parent: Ticket | None = None, episode: Any = None,
                  limit: int | None = None) -> tuple[Note, ...]:
    """The internal handoff note, then the warm public reply when the manifest enables it."""
    notes = [handoff_note(ticket, enrichment, escalation, fired, clocks, manifest, now,
                          parent=parent, episode=episode, limit=limit)]
    reply = warm_reply(ticket, escalation, clocks, manifest, now, episode=episode, limit=limit)
    if reply is not None:
        notes.append(reply)
    return tuple(notes)


def page_facts(ticket: Ticket, enrichment: Enrichment | None, escalation: Escalation,
               clocks: Sequence[ClockState] | None, manifest: Any, now: datetime) -> dict:
    """Summary, what the customer wants, deadline and impact, one plain line each (pages are
    e-mails or webhooks, not Markdown)."""
    facts = note_facts(ticket, enrichment, escalation, clocks, manifest, now)
    currency = _currency(manifest)

    def plain(lines: list[str]) -> str:
        return re.sub(r"\\(.)", r"\1", "; ".join(lines)).replace("**", "")

    return {
        "summary": plain([S.summary_text(ticket, enrichment, facts, now)]),
        "wants": plain(S.want_lines(facts, ticket, now, 160)),
        "deadline": plain(S.deadline_lines(facts, now, 160)),
        "impact": plain(S.impact_lines(ticket, enrichment, facts, None, None, currency, now)),
    }


def answered_since_customer(ticket: Ticket) -> bool:
    """True when an agent (a person or tiergate) replied publicly after the customer's latest
    message: an automatic public acknowledgement would then come after the answer."""
    last_customer = None
    for i, c in enumerate(ticket.comments or ()):
        if _is_customer(c, ticket):
            last_customer = i
    start = -1 if last_customer is None else last_customer
    return any(c.public and not _is_customer(c, ticket)
               for c in list(ticket.comments or ())[start + 1:])


def bot_ids(manifest: Any) -> frozenset[int]:
    """tiergate's own helpdesk user id(s) (``helpdesk.bot_user_id``, default 299)."""
    return frozenset(_bot_ids(manifest))


__all__ = ["handoff_note", "handoff_notes", "warm_reply", "next_update_at", "page_facts",
           "authority_checks", "authority_note", "AuthorityCheck", "Approver",
           "manual_escalation_update", "ManualHandoff", "missing_context", "latest_manual_change",
           "parse_handoff_comment", "fingerprint", "default_episode", "escape", "seal",
           "trusted_fingerprints", "suspect_markers", "marker_keys", "public_text",
           "answered_since_customer", "bot_ids", "required_problems", "DEFAULT_TEMPLATES",
           "TEMPLATE_VARIABLES", "REQUIRED_VARIABLES", "SECTIONS", "ZENDESK_COMMENT_LIMIT",
           "INCOMPLETE_TAG",
           "DEFAULT_REQUIRED", "BOT_USER_ID"]
