"""What an escalation writes besides the note: manual escalations and the ``#handoff``
comment, warm public replies, and authority notes."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from handoff_support import add_comment, conv, note_for
from test_handoff_golden import MANIFEST, with_then
from tiergate.plugin.core import handoff as h
from tiergate.plugin.core.model import Change, Escalation


# -- manual escalations and #handoff ----------------------------------------------------------
def test_manual_escalation_without_context_gets_the_missing_note_and_tag():
    c = conv("manual_missing_context")
    u = h.manual_escalation_update(c["ticket"], c["enrichment"], MANIFEST, c["now"])
    assert u.add_tags == (h.INCOMPLETE_TAG,) and u.missing == ("steps", "logs", "impact")
    (note,) = u.notes
    assert not note.public and "Missing: steps already tried" in note.body
    assert "#handoff steps: ...; logs: ...; impact: ..." in note.body
    assert note.body.startswith("@Ana Frontline")
    again = h.manual_escalation_update(c["ticket"], c["enrichment"], MANIFEST,
                                       c["now"] + timedelta(hours=1))
    assert again.notes[0].fingerprint == note.fingerprint                # no repeat
    assert u.to_update().add_tags == (h.INCOMPLETE_TAG,)


def test_handoff_comment_clears_the_tag_and_writes_the_note_once():
    c = conv("manual_missing_context")
    t2 = with_then(c["ticket"], c["then"])
    u = h.manual_escalation_update(t2, c["enrichment"], MANIFEST, c["now"])
    assert u.remove_tags == (h.INCOMPLETE_TAG,) and not u.add_tags and not u.missing
    (note,) = u.notes
    assert note.body.startswith("@Ben Specialist (Tier 2)")
    assert "restarted sync" in note.body and "SYNC-409" in note.body
    assert "8 field technicians" in note.body and "Moved by hand by Ana Frontline" in note.body
    # after tiergate's write (tag gone, note in the thread) nothing new is produced
    t3 = dataclasses.replace(add_comment(t2, note.body, role="agent", author=299, public=False),
                             tags=tuple(x for x in t2.tags if x != h.INCOMPLETE_TAG))
    u3 = h.manual_escalation_update(t3, c["enrichment"], MANIFEST, c["now"])
    assert u3.notes[0].fingerprint == note.fingerprint and not u3.remove_tags


def test_partial_handoff_comment_lists_only_what_is_still_missing():
    c = conv("manual_missing_context")
    t = add_comment(c["ticket"], "#HANDOFF Impact = all 8 technicians", role="agent", author=201,
                    public=False)
    u = h.manual_escalation_update(t, c["enrichment"], MANIFEST, c["now"])
    assert u.missing == ("steps", "logs") and "customer impact" not in u.notes[0].body


def test_bot_group_changes_and_customer_hashtags_do_not_count():
    c = conv("manual_missing_context")
    t = c["ticket"]
    bot = dataclasses.replace(t, changes=(dataclasses.replace(t.changes[0], author_id=299),))
    assert h.manual_escalation_update(bot, c["enrichment"], MANIFEST, c["now"]).is_empty()
    none = dataclasses.replace(t, changes=())
    assert h.manual_escalation_update(none, c["enrichment"], MANIFEST, c["now"]).is_empty()
    cust = add_comment(t, "#handoff steps: none; logs: none; impact: none", author=5008)
    u = h.manual_escalation_update(cust, c["enrichment"], MANIFEST, c["now"])
    assert u.missing == ("steps", "logs", "impact")


def test_required_list_comes_from_the_manifest():
    c = conv("manual_missing_context")
    manifest = dict(MANIFEST, handoff=dict(MANIFEST["handoff"], required=["steps", "workaround"]))
    u = h.manual_escalation_update(c["ticket"], c["enrichment"], manifest, c["now"])
    assert u.missing == ("steps", "workaround")
    t = add_comment(c["ticket"], "#handoff steps: cleared cache; Workaround: use the web app",
                    role="agent", author=201)
    u = h.manual_escalation_update(t, c["enrichment"], manifest, c["now"])
    assert not u.missing and u.notes and not u.add_tags


@pytest.mark.parametrize("text,expected", [
    ("#handoff steps: a, b; logs: x.log; impact: 40 users",
     {"steps": "a, b", "logs": "x.log", "impact": "40 users"}),
    ("#Handoff\nSteps: restarted\nLOGS= err.txt\nImpact : everyone",
     {"steps": "restarted", "logs": "err.txt", "impact": "everyone"}),
    ("context first. #handoff tried: cleared cache; errors: E1234", {"steps": "cleared cache", "logs": "E1234"}),
    ("#handoff steps: ; logs: x", {"logs": "x"}),
    ("no marker steps: a", {}),
    ("email#handoff steps: a", {}),
    ("#handoff steps: look at https://x.example/a;b logs: none", {"steps": "look at https://x.example/a;b", "logs": "none"}),
])
def test_parse_handoff_comment(text, expected):
    assert h.parse_handoff_comment(text) == expected


# -- warm public reply ------------------------------------------------------------------------
def test_public_reply_is_optional_and_never_leaks_internal_reasons():
    c = conv("outage_with_logs")
    assert h.warm_reply(c["ticket"], dataclasses.replace(c["escalation"], to_tier="tier2",
                                                         group_id=102), c["clocks"], MANIFEST,
                        c["now"]) is None                           # off for Tier 2 in MANIFEST
    reply = h.warm_reply(c["ticket"], c["escalation"], c["clocks"], MANIFEST, c["now"])
    assert reply is not None and reply.public
    body = reply.body.lower()
    forbidden = ["outage_enterprise", "trigger", "score", "attention", "sentiment", "risk", "tag",
                 "escalat", "sla", "breach", "vip", "enterprise", "revenue", "86", "tier",
                 "checkout is still down", "condition"]
    for word in forbidden:
        assert word not in body.replace("[tiergate:", ""), word
    assert "cy from our engineering team" in body and "no need to repeat" in body
    assert "by 15:30 utc today" in body                             # the next-reply clock
    assert reply.fingerprint != note_for(c).fingerprint


def test_public_reply_keeps_an_earlier_promise_and_is_enabled_globally():
    c = conv("login_multichannel")
    manifest = dict(MANIFEST, handoff=dict(MANIFEST["handoff"], public_reply=True))
    t = add_comment(c["ticket"], "We'll update you by 15:10 UTC.", role="agent", author=201,
                    at=c["now"] - timedelta(minutes=5))
    reply = h.warm_reply(t, c["escalation"], (), manifest, c["now"])
    assert "by 15:15 UTC today" in reply.body and "Ben from our Specialist team" in reply.body
    notes = h.handoff_notes(t, c["enrichment"], c["escalation"], c["fired"], (), manifest, c["now"])
    assert [n.public for n in notes] == [False, True]


def test_bad_public_template_never_shows_errors_to_the_customer():
    c = conv("outage_with_logs")
    manifest = dict(MANIFEST, templates={"handoff_public": "{{ escalation.trigger }}"})
    reply = h.warm_reply(c["ticket"], c["escalation"], c["clocks"], manifest, c["now"])
    assert "failed" not in reply.body and "outage_enterprise" not in reply.body


# -- authority --------------------------------------------------------------------------------
def test_within_authority_says_approve_now():
    c = conv("refund_within_authority")
    note = h.authority_note(c["ticket"], c["enrichment"], MANIFEST, c["now"])
    assert "You may approve it now" in note.body and "$40" in note.body and "$100" in note.body
    (chk,) = h.authority_checks(c["enrichment"], MANIFEST, "tier1")
    assert chk.within and chk.approver is None


def test_above_authority_names_the_approver():
    c = conv("refund_above_authority")
    note = h.authority_note(c["ticket"], c["enrichment"], MANIFEST, c["now"])
    assert "needs approval from @Dee Manager (Management)" in note.body
    (chk,) = h.authority_checks(c["enrichment"], MANIFEST, "tier1")
    assert not chk.within and chk.approver == "management"
    body = note_for(c).body
    assert "**Approver**\n- Dee Manager (Management), the new owner, may approve the refund of $250" \
        in body
    # a credit of 150 goes to the first tier up whose limit covers it
    e = dataclasses.replace(c["enrichment"], amounts={"credit": 150.0})
    (chk,) = h.authority_checks(e, MANIFEST, "tier1")
    assert chk.approver == "tier2"


def test_no_limit_no_note():
    c = conv("outage_with_logs")
    assert h.authority_note(c["ticket"], c["enrichment"], MANIFEST, c["now"]) is None
    e = dataclasses.replace(c["enrichment"], amounts={"refund": 5.0})
    assert h.authority_note(c["ticket"], e, None, c["now"]) is None


def test_first_routing_and_same_group_are_not_manual_escalations():
    c = conv("manual_missing_context")
    t = c["ticket"]
    for old, new in ((None, 102), (102, 102)):
        moved = dataclasses.replace(t, changes=(Change(c["now"], "group_id", old, new, 201),))
        assert h.manual_escalation_update(moved, c["enrichment"], MANIFEST, c["now"]).is_empty()


def test_manual_note_can_be_turned_off_for_complete_handoffs():
    c = conv("manual_missing_context")
    t = with_then(c["ticket"], {"comments": c["then"]["comments"]})          # no tag: never missing
    assert h.manual_escalation_update(t, c["enrichment"], MANIFEST, c["now"]).notes
    off = dict(MANIFEST, handoff=dict(MANIFEST["handoff"], note_on_manual=False))
    assert h.manual_escalation_update(t, c["enrichment"], off, c["now"]).is_empty()


def test_authority_note_with_named_templates():
    c = conv("refund_within_authority")
    manifest = dict(MANIFEST, templates={"frontline_ok": "OK {{ amount }} <= {{ limit }}"})
    note = h.authority_note(c["ticket"], c["enrichment"], manifest, c["now"],
                            template_within="frontline_ok")
    assert note.body.startswith("OK $40 <= $100")


def test_real_manifest_shapes_without_names():
    """The repository manifest's shapes (tiers keyed by name with owner_id, authority.limits,
    authority.approvers, helpdesk.bot_user_id) work without a people directory."""
    manifest = {
        "helpdesk": {"bot_user_id": 299},
        "tiers": {"tier_1": {"order": 1, "group_id": 101, "owner_id": 201, "label": "Tier 1 Frontline"},
                  "management": {"order": 4, "group_id": 104, "owner_id": 204, "label": "Management"}},
        "teams": {"finance": {"group_id": 110, "owner_id": 210, "label": "Finance", "rank": 1}},
        "authority": {"currency": "EUR", "limits": {"tier_1": {"refund": 100}},
                      "approvers": {"refund": "finance"}},
        "templates": {},
    }
    c = conv("refund_above_authority")
    note = h.authority_note(c["ticket"], c["enrichment"], manifest, c["now"])
    assert "€250" in note.body and "needs approval from @agent #210 (Finance)" in note.body
    esc = Escalation("tier_1", "management", "hierarchical", 104, 204, "refund_above_authority")
    body = h.handoff_note(c["ticket"], c["enrichment"], esc, c["fired"], (), manifest, c["now"]).body
    assert body.startswith("@agent #204 (Management)")
