"""``decide``: one ticket, one instant -> one ``Decision`` holding one ``TicketUpdate``.

Pure. Steps: build ``Facts``; test every enabled trigger (compiled closures); fire-once per
episode (a trigger in ``fired_state`` whose conditions still hold stays quiet; one whose
conditions are false re-arms); run the fired triggers' actions into one ``Effects``; merge
(rules in ``plugin.core.actions``); add the handoff note for the winning escalation and the
on-call notification when its owner is closed (the page carries the handoff's summary, wants,
deadline and impact); when a handoff note is written, the winning rule's own note becomes its
next step and no other internal note is written (one note per escalation step); drop notes
whose marker tiergate already wrote (a signed marker in its own private note: markers anywhere
else are ignored and reported as possible forgeries); drop automatic public replies when an
agent already replied publicly after the customer's latest message; move a public reply's
commitment marker into a private note of the same update (``commitments``); sign internal notes
and strip markers from public ones; when no new escalation step happens, supersede tiergate's latest
handoff note whose facts changed before anyone acted (``handoff_supersede``; the handoff note
carries a signed step line for that); list timers (time conditions flipping, SLA stages).

``note_keys``: the marker secrets from the configuration, newest first (older ones still
recognise notes written before a rotation); see ``plugin.core.handoff_marker``.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from tiergate.plugin.core import actions as A
from tiergate.plugin.core import commitments, handoff, sla
from tiergate.plugin.core import handoff_supersede as supersede
from tiergate.plugin.core.condition_facts import Facts
from tiergate.plugin.core.condition_reasons import trigger_reason
from tiergate.plugin.core.model import (Decision, Enrichment, Escalation, FiredTrigger, Note,
                                        Notification, Ticket, TicketUpdate, Timer)
from tiergate.plugin.core.templates import render

FIRED_TAG_PREFIX = A.FIRED_TAG_PREFIX


def evaluate(facts: Facts, manifest) -> tuple[bool, ...]:
    """Truth of every enabled trigger, in ``manifest.program`` order (the hot loop: one
    generated function per manifest, no explanations)."""
    return manifest.evaluate(facts)


def decide(ticket: Ticket, enrichment: Enrichment, manifest: Any, now: datetime,
           fired_state: frozenset[str] = frozenset(), *, parent: Ticket | None = None,
           note_keys: Any = None) -> Decision:
    """``parent``: the ticket this one follows up or was merged from, for the handoff context;
    ``note_keys``: marker secrets, newest first (``handoff.marker_keys``)."""
    keys = handoff.marker_keys(note_keys)
    clocks = tuple(sla.clocks(ticket, enrichment, manifest, now))
    facts = Facts(ticket, enrichment, manifest, now, clocks)
    program = manifest.program
    fired: list[FiredTrigger] = []
    fired_cts = []
    rearmed: list[str] = []
    state: list[str] = []
    for ct, held in zip(program, manifest.evaluate(facts)):
        name = ct.trigger.name
        if held:
            state.append(name)
            if name not in fired_state:
                fired.append(FiredTrigger(name, ct.group.explain(facts)))
                fired_cts.append(ct)
        elif name in fired_state:
            rearmed.append(name)

    reasons: list[str] = []
    eff = A.Effects()
    for ct, ft in zip(fired_cts, fired):
        line = trigger_reason(ft, ct.trigger.description)
        reasons.append(f"fired {line}")
        for i, action in enumerate(ct.trigger.actions):
            A.apply(action, i, ct.trigger, ft, facts, eff, [line])
    reasons.extend(eff.reasons)
    for name in rearmed:
        reasons.append(f"re-armed {name}: its conditions no longer hold")

    # escalation: one owner
    escalation, notifications, extra_notes, folded = _escalate(eff, facts, fired, clocks, reasons,
                                                               parent, keys)
    step_fp, step_esc = None, escalation
    if escalation is not None and extra_notes and not extra_notes[0].public:
        step_fp = extra_notes[0].fingerprint
    if escalation is None:
        superseding, step_esc, folded = _supersede(facts, clocks, eff, reasons, parent, keys)
        if superseding is not None:
            extra_notes, step_fp = [superseding], superseding.fingerprint
        _manual_escalation(facts, clocks, eff, reasons, parent)
    elif escalation.after_hours and escalation.oncall_route:
        eff.add_tags[A.ONCALL_PAGED_TAG] = None

    # tags
    tags = set(ticket.tags)
    known = {ct.trigger.name for ct in program}
    add = dict(eff.add_tags)
    for ft in fired:
        add[FIRED_TAG_PREFIX + ft.name] = None
    remove = dict(eff.remove_tags)
    for t in ticket.tags:
        if t.startswith(FIRED_TAG_PREFIX):
            n = t[len(FIRED_TAG_PREFIX):]
            if n in rearmed or n not in known:
                remove[t] = None
    add_tags = tuple(t for t in add if t not in tags)
    remove_tags = tuple(t for t in remove if t in tags and t not in add)

    # notes: skip what tiergate already wrote (its own signed markers only)
    bots = handoff.bot_ids(manifest)
    written = handoff.trusted_fingerprints(ticket, bots, keys)
    reasons.extend(handoff.suspect_markers(ticket, bots, keys))
    answered = handoff.answered_since_customer(ticket)
    notes: list[Note] = []
    seen: set[str] = set()
    for n in [*extra_notes, *eff.notes]:
        fp = n.fingerprint
        if fp and fp in folded:
            continue
        if fp and (fp in seen or fp in written):
            if fp not in seen:
                reasons.append(f"note {fp} already in the thread: not written again")
            seen.add(fp)
            continue
        seen.add(fp)
        if n.public and answered:
            reasons.append(f"public reply {fp} not written: an agent already answered the "
                           "customer's latest message")
            continue
        notes.append(n)
    # promises are recorded in a private note, never shown to the customer
    notes = [handoff.seal(n, keys) for n in commitments.record(notes)]

    # priority
    priority = A.top_priority(eff.priorities)
    if priority is not None and priority == ticket.priority:
        priority = None
    if priority:
        reasons.append(f"priority {ticket.priority} -> {priority}")

    group_id = assignee_id = None
    if escalation is not None:
        if escalation.group_id != ticket.group_id:
            group_id = escalation.group_id
        if escalation.owner_id != ticket.assignee_id:
            assignee_id = escalation.owner_id

    update = TicketUpdate(add_tags=add_tags, remove_tags=remove_tags, notes=tuple(notes),
                          group_id=group_id, assignee_id=assignee_id, priority=priority)
    if step_fp and step_esc is not None:      # the handoff note remembers its step and facts
        update = dataclasses.replace(update, notes=tuple(supersede.mark_step(
            notes, step_fp, step_esc, ticket, update, enrichment, manifest, now, bots, keys)))
    timers = _timers(facts, [ct for ct in program if ct.trigger.name not in state], clocks)
    notifs = _dedupe_notifications([*notifications, *eff.notifications])
    withheld = _page_withheld(manifest, ticket, enrichment)
    if notifs and withheld:
        reasons.append(f"no on-call page: {withheld}")
        notifs = ()
    new_state = tuple(sorted(state))     # held now: either fired now or still in its episode
    return Decision(ticket_id=ticket.id, at=now, manifest_version=manifest.version,
                    update=update, fired=tuple(fired), rearmed=tuple(rearmed),
                    fired_state=new_state, escalation=escalation, notifications=notifs,
                    clocks=clocks, timers=timers, reasons=tuple(reasons))


def _page_withheld(manifest, ticket: Ticket, enrichment: Enrichment) -> str | None:
    """Why nobody is paged for this ticket (``page_requires_organization``), or None."""
    if not manifest.oncall.page_requires_organization:
        return None
    if "spam" in enrichment.tags:
        return "the message reads as spam"
    if ticket.organization is None:
        return "the sender belongs to no organization"
    return None


def _escalate(eff: A.Effects, facts: Facts, fired: list[FiredTrigger], clocks, reasons,
              parent: Ticket | None, keys=None):
    m = facts.manifest
    ticket = facts.ticket
    cand = A.pick_escalation(eff.candidates)
    if cand is None:
        return None, [], [], frozenset()
    for other in eff.candidates:
        if other is not cand and other.target != cand.target:
            reasons.append(f"escalation to {other.target} ({other.trigger}) outranked by "
                           f"{cand.target} ({cand.trigger})")
    tier, team = facts.position()
    current = tier or team
    owner = m.owner(cand.target)
    if cand.target == current and ticket.group_id == owner.group_id:
        reasons.append(f"{cand.trigger}: already with {cand.target}, no escalation")
        return None, [], [], frozenset()
    is_open, cal_name = A.owner_is_open(m, cand.target, facts)
    group_id, owner_id = owner.group_id, owner.owner_id
    route = None
    notifications: list[Notification] = []
    withheld = None if is_open else _page_withheld(m, ticket, facts.enrichment)
    if not is_open and not withheld:
        route_name = owner.oncall or m.oncall.default
        route = m.oncall.routes.get(route_name) if route_name else None
        if route is not None:
            group_id = route.group_id or group_id
            owner_id = route.owner_id or owner_id
    esc = Escalation(from_tier=current, to_tier=cand.target, kind=cand.kind, group_id=group_id,
                     owner_id=owner_id, trigger=cand.trigger, after_hours=not is_open,
                     oncall_route=route.name if route else None)
    label = getattr(owner, "label", "") or cand.target
    line = (f"escalate {cand.kind} {current or 'unassigned'} -> {cand.target} ({label}), owner "
            f"{owner_id}, by {cand.trigger}" + (f": {cand.why}" if cand.why else ""))
    if not is_open:
        line += (f"; after hours ({cal_name} closed): on-call route {route.name}" if route
                 else f"; after hours ({cal_name} closed), no on-call page: {withheld}"
                 if withheld else f"; after hours ({cal_name} closed) and no on-call route "
                 f"configured")
    reasons.append(line)
    notes: list[Note] = []
    chosen = [f for f in fired if f.name == cand.trigger]
    after_line = ""
    if not is_open:
        after_line = (f"After hours: {label} is closed now (calendar {cal_name}); "
                      + (f"on-call paged via route '{route.name}'." if route else
                         f"no on-call page ({withheld}), the ticket waits for opening."
                         if withheld else
                         "no on-call route is configured, the ticket waits for opening."))
    folded: frozenset[str] = frozenset()
    if cand.handoff_note:
        own = (cand.trigger, "note")
        guidance = [A.guidance(n.body) for n in eff.notes
                    if not n.public and eff.note_sources.get(n.fingerprint) == own]
        folded = frozenset(n.fingerprint for n in eff.notes if not n.public and n.fingerprint)
        if folded:
            reasons.append(f"{len(folded)} rule note(s) folded into the handoff note")
        notes.append(_handoff_note(facts, esc, chosen or fired, clocks, after_line, parent,
                                   guidance, keys))
        warm = _warm_reply(facts, esc, clocks, cand.public_template)
        if warm is not None:
            notes.append(warm)
    if route is not None:
        ctx = A.context(facts, cand.trigger, chosen[0] if chosen else None, reasons)
        ctx.update(handoff.page_facts(ticket, facts.enrichment, esc, clocks, m, facts.now))
        body = (A.render_note(m, route.template, "notify", ctx) if route.template
                else render(handoff.DEFAULT_TEMPLATES["oncall_page"], ctx))
        notifications.append(Notification(
            route=route.name, kind=route.kind, target=route.target,
            subject=f"[tiergate] after-hours escalation to {label}: ticket #{ticket.id}",
            body=body, fingerprint=A.fingerprint(ticket.id, "oncall", cand.trigger, cand.target,
                                                 A.episode(facts))))
    if cand.public_template and not any(n.public for n in notes):
        ft = chosen[0] if chosen else FiredTrigger(cand.trigger)
        fp = A.fingerprint(ticket.id, cand.trigger, "escalate-public", A.episode(facts))
        notes.append(A.public_update(cand.public_template, "response", facts, cand.trigger, ft,
                                     reasons, fp))
    return esc, notifications, notes, folded


def _supersede(facts: Facts, clocks, eff: A.Effects, reasons: list[str],
               parent: Ticket | None, keys):
    """One note replacing tiergate's latest handoff note when its facts changed before anyone
    acted (``handoff_supersede``); the rules' own notes fold into it as its next step."""
    by_name = {ct.trigger.name: ct for ct in facts.manifest.program}
    private = [n for n in eff.notes if not n.public and n.fingerprint]
    guidance = [A.guidance(n.body) for n in private]

    def render(esc: Escalation) -> Note:
        ct = by_name.get(esc.trigger)
        fired = FiredTrigger(esc.trigger, ct.group.explain(facts) if ct is not None else ())
        return _handoff_note(facts, esc, [fired], clocks, "", parent, guidance, keys)

    note, esc, line = supersede.supersede(facts.ticket, clocks, handoff.bot_ids(facts.manifest),
                                          keys, render)
    if note is None:
        return None, None, frozenset()
    reasons.append(line)
    return note, esc, frozenset(n.fingerprint for n in private)


def _warm_reply(facts: Facts, esc: Escalation, clocks, template: str | None) -> Note | None:
    """The handoff area's warm public reply: on ``public_template`` or when the manifest
    enables it (``handoff.public_reply`` / the owner's ``warm_reply``)."""
    return handoff.warm_reply(facts.ticket, esc, clocks, facts.manifest, facts.now,
                              template=template)


def _manual_escalation(facts: Facts, clocks, eff: A.Effects, reasons: list[str],
                       parent: Ticket | None) -> None:
    """A person moved the ticket: the handoff area checks the required context."""
    extra = handoff.manual_escalation_update(facts.ticket, facts.enrichment, facts.manifest,
                                             facts.now, clocks=clocks, parent=parent)
    if extra.is_empty():
        return
    for tag in extra.add_tags:
        eff.add_tags[tag] = None
    for tag in extra.remove_tags:
        eff.remove_tags[tag] = None
    eff.notes.extend(extra.notes)
    if extra.missing:
        reasons.append("manual escalation without " + ", ".join(extra.missing)
                       + ": asked for the missing context")
    else:
        reasons.append("manual escalation: handoff note written")


def _handoff_note(facts: Facts, esc: Escalation, fired, clocks, after_line: str,
                  parent: Ticket | None, guidance=(), keys=None) -> Note:
    note = handoff.handoff_note(facts.ticket, facts.enrichment, esc, tuple(fired), clocks,
                                facts.manifest, facts.now, parent=parent, guidance=guidance,
                                keys=keys)
    if after_line and "after hours" not in note.body.lower():
        body, sep, footer = note.body.rpartition("\n\n[tiergate:")
        body = f"{body}\n\n{after_line}{sep}{footer}" if sep else f"{note.body}\n\n{after_line}"
        note = Note(body, note.public, note.fingerprint)
    return note


def _timers(facts: Facts, program, clocks) -> tuple[Timer, ...]:
    """When a trigger that does not hold now may start to hold by time alone: the earliest
    future flip of its time conditions, only if its other conditions hold already (a change to
    those is a ticket change, which re-decides anyway). Plus the SLA stages. Each timer only
    wakes the decision up; the next decision plans the next one."""
    out: list[Timer] = []
    now = facts.now
    for ct in program:
        if not ct.has_timers:
            continue
        g = ct.group
        if not all(c.flip_at is not None or c.test(facts) for c in g.all):
            continue
        if g.any and not any(c.flip_at is not None or c.test(facts) for c in g.any):
            continue
        flips = [at for at in g.flips(facts) if at > now]
        if flips:
            out.append(Timer(at=min(flips), kind="trigger", name=ct.trigger.name))
    out.extend(sla.timers(clocks))
    out.sort(key=lambda t: (t.at, t.kind, t.name, t.stage))
    return tuple(out)


def _dedupe_notifications(items: list[Notification]) -> tuple[Notification, ...]:
    """One page per route per decision: the escalation's own page (it carries the handoff
    facts) wins over a trigger's ``notify`` to the same route."""
    seen: set[str] = set()
    out = []
    for n in items:
        if n.route in seen:
            continue
        seen.add(n.route)
        out.append(n)
    return tuple(out)


__all__ = ["decide", "evaluate", "FIRED_TAG_PREFIX"]
