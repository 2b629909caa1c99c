"""Manual escalations: a person moved the ticket to another group by hand.

``manual_escalation_update(...)``: when the required context (manifest ``handoff.required``,
default steps, logs, impact) is missing from the thread and from ``#handoff`` comments, an
internal note lists what is missing (once per manual change) and the tag ``handoff_incomplete``
is added; once it is there, the tag goes and the full handoff note is written (once). A manual
change that had everything from the start gets the handoff note too (``handoff.note_on_manual``,
default true). ``latest_manual_change`` finds the move; ``missing_context`` the gaps.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from tiergate.plugin.core.handoff_authority import _fit, _limit
from tiergate.plugin.core.handoff_marker import fingerprint, marker
from tiergate.plugin.core.handoff_render import handoff_body
from tiergate.plugin.core.handoff_text import (INCOMPLETE_TAG, _ago, _bot_ids, _find_tier, _first,
                                               _people, _render, _required, _settings, escape)
from tiergate.plugin.core.handoff_thread import (_Ctx, _evidence, _handoff_fields, _macros,
                                                 _tried, _users_affected)
from tiergate.plugin.core.model import (ClockState, Enrichment, Escalation, Note, Ticket,
                                        TicketUpdate)


@dataclass(frozen=True)
class ManualHandoff:
    """What tiergate adds after a group change made by hand (merge into the decision's update)."""

    notes: tuple[Note, ...] = ()
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.notes or self.add_tags or self.remove_tags)

    def to_update(self) -> TicketUpdate:
        return TicketUpdate(add_tags=self.add_tags, remove_tags=self.remove_tags, notes=self.notes)


_REQUIRED_LABELS = {"steps": "steps already tried", "logs": "logs or error messages",
                    "impact": "customer impact (who and how many users)"}


def missing_context(ticket: Ticket, manifest: Any, *,
                    parent: Ticket | None = None) -> tuple[str, ...]:
    """The required handoff fields (manifest ``handoff.required``, default steps, logs, impact)
    that neither the thread nor a ``#handoff`` comment provides."""
    ctx = _Ctx("", frozenset(_bot_ids(manifest)), {})
    required = _required(manifest)
    fields = _handoff_fields(ticket, ctx, required)
    threads = [ticket] + ([parent] if parent is not None else [])
    missing = []
    for key in required:
        if fields.get(key):
            continue
        if key == "steps" and (any(_tried(t, ctx) for t in threads) or _macros(ticket, manifest)):
            continue
        if key == "logs" and any(_evidence(t, ctx) for t in threads):
            continue
        if key == "impact" and any(_users_affected(t, ctx, manifest) for t in threads):
            continue
        missing.append(key)
    return tuple(missing)


def latest_manual_change(ticket: Ticket, manifest: Any):
    """The latest ``group_id`` change if a person (not tiergate) moved the ticket from one group
    to another; None otherwise (no change, tiergate's own, or first routing of an unassigned
    ticket, which is triage rather than a handoff)."""
    bots = _bot_ids(manifest)
    changes = [c for c in ticket.changes or () if c.field == "group_id"]
    if not changes:
        return None
    last = changes[-1]
    if (last.author_id is None or last.author_id in bots or last.new is None or last.old is None
            or last.old == last.new):
        return None
    return last


def manual_escalation_update(ticket: Ticket, enrichment: Enrichment | None, manifest: Any,
                             now: datetime, *, parent: Ticket | None = None,
                             clocks: Sequence[ClockState] | None = None,
                             limit: int | None = None,
                             keys: Sequence[bytes] | None = None) -> ManualHandoff:
    """Required context for a group change made by hand.

    Missing essentials -> an internal note listing them (once per manual change) and the tag
    ``handoff_incomplete``. Once they are there (thread or ``#handoff`` comment) while the tag
    is on the ticket -> remove the tag and write the completed handoff note (once). A manual
    change that had everything from the start gets the handoff note too (manifest
    ``handoff.note_on_manual``, default true)."""
    change = latest_manual_change(ticket, manifest)
    if change is None:
        return ManualHandoff()
    settings = _settings(manifest)
    to_tier = _find_tier(manifest, group_id=change.new)
    from_tier = _find_tier(manifest, group_id=change.old)
    to_name = to_tier.name if to_tier else f"group {change.new}"
    episode = change.at.isoformat() if change.at else f"{change.old}->{change.new}"
    missing = missing_context(ticket, manifest, parent=parent)
    people = _people(manifest)
    mover = people.get(change.author_id, f"agent #{change.author_id}")
    if missing:
        fp = fingerprint(ticket.id, "manual", to_name, episode, kind="missing")
        labels = [escape(_REQUIRED_LABELS.get(m, m)) for m in missing]
        body = _render(manifest, "handoff_missing", {
            "mention": f"@{escape(mover)}",
            "to_tier": escape(to_tier.label if to_tier else to_name), "moved_by": escape(mover),
            "missing": [escape(m) for m in missing], "missing_labels": labels,
            "tag": INCOMPLETE_TAG,
            "ticket": {"id": ticket.id}})
        note = Note(body=_fit(body, marker(fp, keys), _limit(manifest, limit)), public=False,
                    fingerprint=fp)
        return ManualHandoff(notes=(note,), add_tags=(INCOMPLETE_TAG,), missing=missing)
    was_incomplete = INCOMPLETE_TAG in (ticket.tags or ())
    if not was_incomplete and _first(settings, "note_on_manual") is False:
        return ManualHandoff()
    esc = Escalation(from_tier=from_tier.name if from_tier else None, to_tier=to_name,
                     kind=to_tier.kind if to_tier else "hierarchical", group_id=change.new,
                     owner_id=ticket.assignee_id if ticket.assignee_id is not None else
                     (to_tier.owner_id if to_tier else None), trigger="manual")
    route = (f"{escape(from_tier.label)} → " if from_tier else "") + escape(
        to_tier.label if to_tier else to_name)
    reason = [f"Moved by hand by {escape(mover)} {_ago(change.at, now)}: {route}"]
    fp = fingerprint(ticket.id, "manual", to_name, episode)
    body = handoff_body(ticket, enrichment, esc, None, clocks or (), manifest, now, parent, fp,
                        _limit(manifest, limit), reason_override=reason, keys=keys)
    note = Note(body=body, public=False, fingerprint=fp)
    return ManualHandoff(notes=(note,), remove_tags=(INCOMPLETE_TAG,) if was_incomplete else ())


__all__ = ["ManualHandoff", "manual_escalation_update", "missing_context",
           "latest_manual_change"]
