"""Handoff integrity through ``decide``: one note per escalation step with every section, markers
that a customer or another agent cannot forge, secret rotation, public replies without markers
and never after an agent already answered, on-call pages that carry the facts, and the manifest
check that keeps required facts in the templates."""
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest

from test_manifest_base import NOW, doc_with, enrichment, ticket
from tiergate.plugin.core import handoff as h
from tiergate.plugin.core.decide import decide
from tiergate.plugin.core.errors import ManifestError
from tiergate.plugin.core.handoff_marker import mac
from tiergate.plugin.core.manifest import load_manifest
from tiergate.plugin.core.model import Comment

SATURDAY = NOW + timedelta(days=3)          # support calendar closed
URGENT = {"all": [{"field": "priority", "operator": "is", "value": "urgent"}]}
SECTIONS = [f"**{title}**" for _, title in h.SECTIONS]
BOT = 299


def trig(name, actions):
    return {"name": name, "conditions": URGENT, "actions": actions}


ESCALATE = trig("escalate_up", [{"action": "escalate", "to": "tier_2"},
                                {"action": "note", "template": "note"}])
OTHER_NOTE = trig("other_rule", [{"action": "note", "template": "note"}])
ACK = trig("ack", [{"action": "public_update", "template": "promise"}])


def thread(*extra: Comment):
    first = Comment(1, 500, "end-user", "Checkout is down for all 40 of our stores. Please fix it "
                    "by Friday.", True, NOW - timedelta(hours=2))
    return ticket(priority="urgent", comments=(first, *extra))


def run(t, *triggers, keys=None, now=NOW):
    m = load_manifest(doc_with(*(triggers or (ESCALATE,))))
    return decide(t, enrichment(), m, now, frozenset(), note_keys=keys)


def private_notes(d):
    return [n for n in d.update.notes if not n.public]


def written(t, note, *, author=BOT, public=False, at=NOW):
    """The ticket after ``note`` was written as a comment by ``author``."""
    c = Comment(len(t.comments) + 100, author, "agent", note.body, public, at)
    return dataclasses.replace(t, comments=t.comments + (c,))


# -- one note per escalation step ---------------------------------------------------------------
def test_one_note_with_every_section_and_the_rule_note_as_its_next_step():
    d = run(thread(), ESCALATE, OTHER_NOTE)
    (note,) = private_notes(d)
    positions = [note.body.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert "Next step: Note for escalate\\_up" in note.body
    assert "Note for other\\_rule" not in note.body               # another rule's text stays out
    assert any("folded into the handoff note" in r for r in d.reasons)


# -- forgery ------------------------------------------------------------------------------------
def test_a_marker_pasted_into_a_public_reply_neither_suppresses_nor_alters_the_note():
    t = thread()
    (honest,) = private_notes(run(t))
    fp = honest.fingerprint
    forged = f"[tiergate:{fp}.{mac(fp, h.marker_keys()[0])}]"   # even correctly signed
    pasted = Comment(2, 500, "end-user", f"Any update?\n{forged}", True, NOW - timedelta(minutes=5))
    plain = Comment(2, 500, "end-user", "Any update?", True, NOW - timedelta(minutes=5))
    d = run(thread(pasted))
    (note,) = private_notes(d)
    (reference,) = private_notes(run(thread(plain)))
    assert note.fingerprint == fp == reference.fingerprint
    strip = re.compile(r"^\*\*Conversation\*\*.*?\n\n", re.S | re.M)
    assert strip.sub("", note.body) == strip.sub("", reference.body)
    assert any("possible forgery" in r and "public comment" in r for r in d.reasons)


def test_a_marker_in_another_agents_private_note_is_ignored():
    t = thread()
    (honest,) = private_notes(run(t))
    by_agent = written(t, honest, author=201)                      # copied by a person
    d = run(by_agent)
    assert [n.fingerprint for n in private_notes(d)] == [honest.fingerprint]
    assert any("written by user 201" in r for r in d.reasons)


def test_tiergates_own_note_is_recognised_and_not_written_twice():
    t = thread()
    (first,) = private_notes(run(t, keys="s3cret"))
    again = run(written(t, first), keys="s3cret")
    assert private_notes(again) == []
    assert any("already in the thread" in r for r in again.reasons)
    # an unsigned or wrongly signed marker, even in the bot's own note, is not believed
    unsigned = dataclasses.replace(first, body=re.sub(r"\.[0-9a-f]{16}\]", "]", first.body))
    assert private_notes(run(written(t, unsigned), keys="s3cret"))


def test_rotated_secret_still_recognises_older_notes():
    t = thread()
    (old,) = private_notes(run(t, keys=["old-secret"]))
    after = written(t, old)
    assert private_notes(run(after, keys=["new-secret", "old-secret"])) == []
    (rewritten,) = private_notes(run(after, keys=["new-secret"]))      # old secret dropped
    assert rewritten.body.endswith(f"[tiergate:{old.fingerprint}."
                                   f"{mac(old.fingerprint, b'new-secret')}]")


# -- public side --------------------------------------------------------------------------------
def test_public_replies_carry_no_marker():
    d = run(thread(), ESCALATE, ACK)
    public = [n for n in d.update.notes if n.public]
    assert public and all("[tiergate" not in n.body for n in public)     # no marker of any kind
    assert all("[tiergate:" in n.body for n in private_notes(d))
    # the reply's promise is recorded in tiergate's private note instead
    assert any("[tiergate-commitment:response:" in n.body for n in private_notes(d))


def test_no_automatic_public_reply_after_an_agent_answered():
    answer = Comment(2, 201, "agent", "We are on it.", True, NOW - timedelta(minutes=30))
    d = run(thread(answer), ESCALATE, ACK)
    assert [n for n in d.update.notes if n.public] == []
    assert any("already answered" in r for r in d.reasons)
    # a new customer message after the answer is a new triggering event
    again = Comment(3, 500, "end-user", "Still down.", True, NOW - timedelta(minutes=5))
    d = run(thread(answer, again), ESCALATE, ACK)
    assert [n for n in d.update.notes if n.public]


def test_tiergates_own_public_reply_is_not_repeated_on_a_rerun():
    d = run(thread(), ACK)
    (reply,) = [n for n in d.update.notes if n.public]
    after = written(thread(), reply, public=True)
    assert [n for n in run(after, ACK).update.notes if n.public] == []


# -- on-call page -------------------------------------------------------------------------------
def test_after_hours_page_carries_summary_wants_deadline_and_impact():
    t = dataclasses.replace(thread(), created_at=SATURDAY - timedelta(hours=1),
                            comments=(Comment(1, 500, "end-user", "Checkout is down for all 40 of "
                                              "our stores. Please fix it by Friday.", True,
                                              SATURDAY - timedelta(hours=1)),))
    d = run(t, now=SATURDAY)
    (page,) = d.notifications
    assert "Summary: The customer reports" in page.body
    assert "Customer wants: “Please fix it by Friday.”" in page.body
    assert "Deadline: “by Friday”" in page.body
    assert "Impact: People affected: “40 of our stores”" in page.body


# -- the manifest check -------------------------------------------------------------------------
def test_check_rejects_a_handoff_template_that_drops_a_required_fact():
    doc = doc_with(ESCALATE)
    doc["templates"]["handoff"] = h.DEFAULT_TEMPLATES["handoff"].replace(
        "{{ section('Approver', approver) }}", "")
    with pytest.raises(ManifestError) as err:
        load_manifest(doc)
    assert any(path == "templates.handoff" and "approver" in msg
               for path, msg in err.value.errors)
    doc["templates"]["handoff"] = h.DEFAULT_TEMPLATES["handoff"]
    load_manifest(doc)


def test_check_rejects_an_oncall_page_without_what_the_customer_wants():
    doc = doc_with(ESCALATE)
    doc["templates"]["page"] = "{{ summary }} {{ deadline }} {{ impact }}"
    doc["oncall"]["routes"]["mail"]["template"] = "page"
    with pytest.raises(ManifestError) as err:
        load_manifest(doc)
    assert any(path == "oncall.routes.mail.template" and "wants" in msg
               for path, msg in err.value.errors)


def test_check_rejects_a_notify_action_template_that_drops_a_page_fact():
    """A trigger's ``notify`` pages on-call too: its template must carry the same four facts."""
    doc = doc_with(trig("page_now", [{"action": "notify", "route": "mail",
                                      "template": "short_page"}]))
    doc["templates"]["short_page"] = "{{ summary }} {{ wants }} {{ impact }}"
    with pytest.raises(ManifestError) as err:
        load_manifest(doc)
    assert [(p, m) for p, m in err.value.errors if "drops" in m] == [
        ("triggers[0].actions[0].template", "on-call page template 'short_page' drops required "
         "fact(s) deadline; a page must print deadline, impact, summary, wants")]
    doc["templates"]["short_page"] += " {{ deadline }}"
    load_manifest(doc)


def test_default_notify_page_carries_summary_wants_deadline_and_impact():
    from tiergate.plugin.core.actions import DEFAULT_TEXTS

    assert h.required_problems({"notify": DEFAULT_TEXTS["notify"]}, [("r", "notify")]) == []
    d = run(thread(), trig("page_now", [{"action": "notify", "route": "mail"}]))
    (page,) = d.notifications
    assert "Summary: The customer reports" in page.body
    assert "Customer wants: “Please fix it by Friday.”" in page.body
    assert "Deadline: “by Friday”" in page.body
    assert "Impact: People affected: “40 of our stores”" in page.body


def test_shipped_manifest_passes_the_check():
    from tiergate.plugin.core.manifest import default_manifest_path
    m = load_manifest(default_manifest_path())
    assert h.required_problems(dict(m.templates), [("r", "oncall_page")]) == []


# -- labels -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_unauthorised_card_charges_are_a_billing_dispute_not_security():
    """Read by the real enricher and routed by the shipped manifest."""
    from tiergate.nlp.enrich import Enricher
    from tiergate.plugin.core.manifest import default_manifest_path
    from tiergate.plugin.core.model import Organization

    m = load_manifest(default_manifest_path())
    text = ("You charged our company card three times this month without authorisation, $449 "
            "each. Please reverse the two extra charges.")
    t = dataclasses.replace(
        ticket(subject="Unauthorised charges on our card", description=text,
               comments=(Comment(1, 500, "end-user", text, True, NOW - timedelta(hours=1)),)),
        organization=Organization(9, "Tailspin Toys", segment="smb"), organization_id=9)
    e = Enricher.from_manifest(m).enrich(t, NOW)
    tags = {r.tag for r in e.risk_tags}
    assert "billing" in tags and "security" not in tags
    d = decide(t, e, m, NOW)
    assert d.escalation is not None and d.escalation.to_tier == "billing"
    (note,) = private_notes(d)
    assert "Owner now: Billing" in note.body and "ecurity" not in note.body


def test_tiergates_marker_free_public_reply_is_not_a_human_reply_for_the_sla():
    from tiergate.plugin.core import sla

    m = load_manifest(doc_with(ESCALATE))
    t = thread()
    before = {c.metric for c in sla.clocks(t, enrichment(), m, NOW)}
    bot_reply = Comment(2, BOT, "agent", "A specialist has your request now.", True,
                        NOW - timedelta(minutes=10))
    after = {c.metric for c in sla.clocks(written(t, h.Note(bot_reply.body, True), public=True),
                                           enrichment(), m, NOW)}
    assert "first_reply_time" in before and "first_reply_time" in after
