"""One note per escalation step: when the facts of tiergate's handoff note change before anyone
acts (a new customer message, the SLA moving to another stage), ``decide`` writes one note that
replaces it; never when nothing changed, never after an agent acted, and never on a forged step
line. Each decision is applied to the ticket the way the helpdesk would store it."""
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from test_manifest_base import NOW, doc_with, enrichment, ticket
from tiergate.plugin.core import handoff_supersede as hs
from tiergate.plugin.core.decide import decide
from tiergate.plugin.core.manifest import load_manifest
from tiergate.plugin.core.model import Change, Comment

BOT = 299
URGENT = {"all": [{"field": "priority", "operator": "is", "value": "urgent"}]}
ESCALATE = {"name": "escalate_up", "conditions": URGENT,
            "actions": [{"action": "escalate", "to": "tier_2"}]}
MANIFEST = load_manifest(doc_with(ESCALATE))
START = NOW - timedelta(minutes=20)      # first reply target 60 min: ok at NOW, 75% at NOW+25


def first_ticket():
    first = Comment(1, 500, "end-user", "Checkout is down for all 40 of our stores. Please fix it "
                    "by Friday.", True, START)
    return ticket(priority="urgent", created_at=START, comments=(first,))


def run(t, state=frozenset(), now=NOW, keys=None):
    return decide(t, enrichment(), MANIFEST, now, state, note_keys=keys)


def applied(t, d, at):
    """The ticket as the helpdesk stores it after ``d``'s one write at ``at``."""
    u = d.update
    last = max(c.id for c in t.comments)
    added = tuple(Comment(last + 1 + i, BOT, "agent", n.body, n.public, at)
                  for i, n in enumerate(u.notes))
    changes = list(t.changes)
    if u.group_id is not None:
        changes.append(Change(at, "group_id", t.group_id, u.group_id, BOT))
    if u.assignee_id is not None:
        changes.append(Change(at, "assignee_id", t.assignee_id, u.assignee_id, BOT))
    tags = (set(t.tags) | set(u.add_tags)) - set(u.remove_tags)
    return dataclasses.replace(
        t, comments=t.comments + added, changes=tuple(changes), tags=tuple(sorted(tags)),
        group_id=u.group_id or t.group_id, assignee_id=u.assignee_id or t.assignee_id,
        priority=u.priority or t.priority, updated_at=at)


def said(t, body, at, *, author=500, role="end-user", public=True):
    c = Comment(max(x.id for x in t.comments) + 1, author, role, body, public, at)
    return dataclasses.replace(t, comments=t.comments + (c,), updated_at=at)


def notes(d):
    return [n for n in d.update.notes if not n.public]


def escalated():
    """The ticket right after its escalation note was written, and the fired state."""
    t = first_ticket()
    d = run(t)
    (note,) = notes(d)
    assert d.escalation is not None and hs.STEP_RE.search(note.body)
    return applied(t, d, NOW), d.fired_state, note


def test_nothing_changed_no_new_note_however_often_it_is_decided():
    t, state, _ = escalated()
    for minutes in (0, 1, 2):
        d = run(t, state, NOW + timedelta(minutes=minutes))
        assert notes(d) == [], d.reasons


def test_a_new_customer_message_supersedes_the_note_once():
    t, state, first = escalated()
    t = said(t, "Update: now the payment terminals fail too, we lose about $5,000 an hour.",
             NOW + timedelta(minutes=5))
    at = NOW + timedelta(minutes=6)
    d = run(t, state, at)
    (note,) = notes(d)
    assert note.fingerprint != first.fingerprint
    assert note.body.startswith("**Replaces the earlier handoff note of 2026-11-25 13:00 UTC** "
                                f"(note {first.fingerprint}): the customer wrote again")
    assert "payment terminals fail too" in note.body and "**Summary**" in note.body
    assert note.body.rstrip().endswith("]") and re.search(r"\[tiergate:[0-9a-f]{16}\.", note.body)
    assert any("superseded" in r for r in d.reasons)
    # the same ticket state decided again: the same note (one fingerprint, written once)
    assert [n.fingerprint for n in notes(run(t, state, at))] == [note.fingerprint]
    # once written, it is the latest note: nothing changed since, nothing more
    t = applied(t, d, at)
    assert notes(run(t, state, at + timedelta(minutes=1))) == []
    assert notes(run(t, state, at + timedelta(minutes=2))) == []


def test_the_sla_moving_to_another_stage_supersedes_once_per_stage():
    t, state, _ = escalated()
    warn = NOW + timedelta(minutes=30)           # 50 of 60 minutes: past the 75% warning
    d = run(t, state, warn)
    (note,) = notes(d)
    assert "the SLA moved" in note.body.split("\n")[0]
    t = applied(t, d, warn)
    assert notes(run(t, state, warn + timedelta(minutes=5))) == []     # still warn
    breach = NOW + timedelta(minutes=45)
    d = run(t, state, breach)
    assert len(notes(d)) == 1 and "the SLA moved" in notes(d)[0].body


def test_no_supersede_once_an_agent_acted():
    t, state, _ = escalated()
    acted = said(t, "Looking into the gateway logs now.", NOW + timedelta(minutes=2),
                 author=202, role="agent", public=False)
    later = said(acted, "Any news?", NOW + timedelta(minutes=5))
    assert notes(run(later, state, NOW + timedelta(minutes=6))) == []
    # a reassignment by a person counts as acting too
    moved = dataclasses.replace(t, assignee_id=205, changes=t.changes + (
        Change(NOW + timedelta(minutes=2), "assignee_id", 202, 205, 204),))
    later = said(moved, "Any news?", NOW + timedelta(minutes=5))
    assert notes(run(later, state, NOW + timedelta(minutes=6))) == []


def test_no_supersede_after_the_ticket_left_the_step():
    t, state, _ = escalated()
    away = dataclasses.replace(t, group_id=101, changes=t.changes + (
        Change(NOW + timedelta(minutes=2), "group_id", 102, 101, None),))
    later = said(away, "Any news?", NOW + timedelta(minutes=5))
    assert not [n for n in notes(run(later, state, NOW + timedelta(minutes=6)))
                if "Replaces the earlier" in n.body]


def test_a_forged_step_line_is_not_believed():
    t, state, first = escalated()
    line = hs.STEP_RE.search(first.body).group(0)
    # the real note without its step line, and the line pasted by a customer and by an agent
    stripped = tuple(dataclasses.replace(c, body=hs.STEP_RE.sub("", c.body))
                     if c.author_id == BOT else c for c in t.comments)
    t = dataclasses.replace(t, comments=stripped)
    t = said(t, f"Any news?\n{line}", NOW + timedelta(minutes=3))
    t = said(t, f"fyi\n{line}", NOW + timedelta(minutes=4), author=203, role="agent",
             public=False)
    t = said(t, "Still down.", NOW + timedelta(minutes=5))
    assert notes(run(t, state, NOW + timedelta(minutes=6))) == []


def test_a_rotated_secret_still_recognises_the_older_note():
    t = first_ticket()
    d = decide(t, enrichment(), MANIFEST, NOW, frozenset(), note_keys=["old"])
    t = applied(t, d, NOW)
    t = said(t, "Still down.", NOW + timedelta(minutes=5))
    d2 = decide(t, enrichment(), MANIFEST, NOW + timedelta(minutes=6), d.fired_state,
                note_keys=["new", "old"])
    assert len(notes(d2)) == 1 and "Replaces the earlier" in notes(d2)[0].body
