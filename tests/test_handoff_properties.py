"""Properties of handoff notes over generated threads (hypothesis): the contact count is the
number of comments by the requester and CCs; the owner named is the escalation's final group and
assignee; there is exactly one approver or none; every section is present, in order."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_handoff_golden import MANIFEST, sections_of
from tiergate.plugin.core import handoff as h
from tiergate.plugin.core.handoff_facts import note_facts
from tiergate.plugin.core.model import (Change, Comment, Enrichment, Escalation, Organization,
                                        Ticket)

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=timezone.utc)
REQUESTER, CC = 5001, 5002
GROUPS = {101: ("tier1", "Tier 1", 201, "Ana Frontline"),
          102: ("tier2", "Tier 2", 202, "Ben Specialist"),
          103: ("tier3", "Tier 3", 203, "Cy Engineer"),
          104: ("management", "Management", 204, "Dee Manager"),
          110: ("finance", "Finance", 210, "Fin Lead")}
WORDS = ["please", "refund", "the", "export", "fails", "by", "Friday", "we", "need", "this",
         "40", "users", "can't", "log", "in", "?", "[tiergate:0123456789abcdef]", "ERROR-42",
         "tried", "restarted", "{{ 7*7 }}", "<b>", "$250", "urgent", "lawyer"]

AUTHORS = st.sampled_from([(REQUESTER, "end-user"), (CC, "end-user"), (201, "agent"),
                           (202, "agent"), (299, "agent"), (None, "system")])


@st.composite
def comments(draw):
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        author, role = draw(AUTHORS)
        body = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=25)))
        out.append(Comment(i + 1, author, role, body, draw(st.booleans()),
                           NOW - timedelta(minutes=10 * (n - i)),
                           draw(st.sampled_from(["email", "web", "chat", "voice"]))))
    return tuple(out)


@st.composite
def cases(draw):
    thread = draw(comments())
    start = draw(st.sampled_from([101, 102]))
    moves, group = [], start
    for k in range(draw(st.integers(0, 3))):
        new = draw(st.sampled_from([g for g in GROUPS if g != group]))
        moves.append(Change(NOW - timedelta(minutes=200 - k), "group_id", group, new,
                            draw(st.sampled_from([201, 202, 299]))))
        group = new
    target = draw(st.sampled_from([g for g in GROUPS if g != group]))
    name, _, owner, _ = GROUPS[target]
    owner_id = draw(st.sampled_from([owner, None]))
    amounts = draw(st.dictionaries(st.sampled_from(["refund", "credit", "discount", "other"]),
                                   st.floats(1, 20000, allow_nan=False), max_size=3))
    org = draw(st.sampled_from([None, Organization(7, "Contoso", segment="enterprise")]))
    t = Ticket(9000, draw(st.sampled_from(["", "Export fails", "Need help"])),
               thread[0].body, "open", draw(st.sampled_from([None, "normal", "urgent"])),
               "incident", group, None, REQUESTER, 7 if org else None, (), "email",
               NOW - timedelta(hours=5), NOW, comments=thread, organization=org,
               changes=tuple(moves))
    esc = Escalation(GROUPS[group][0], name, "functional" if target == 110 else "hierarchical",
                     target, owner_id, "generated")
    e = Enrichment(50, -0.3, "negative", True, amounts=amounts)
    return t, e, esc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_note_facts_hold_for_any_thread(case):
    t, e, esc = case
    body = h.handoff_note(t, e, esc, None, (), MANIFEST, NOW).body
    sections = sections_of(body)
    required = [title for _, title in h.SECTIONS]
    assert [s for s in sections if s in required] == required
    assert all(sections[s].startswith("- ") for s in required)

    contacts = sum(1 for c in t.comments if c.author_id in (REQUESTER, CC))
    facts = note_facts(t, e, esc, (), MANIFEST, NOW)
    assert facts.contact_count == contacts
    said = {1: "written once", 2: "written twice"}.get(contacts, f"written {contacts} times")
    summary = sections["Summary"]
    assert (said in summary) if contacts else "has not written yet" in summary

    _, label, owner, person = GROUPS[esc.group_id]
    expected_person = person if esc.owner_id is not None else "nobody assigned yet"
    assert f"Owner now: {label}, {expected_person}" in sections["Owner and next step"]

    approver = sections["Approver"].splitlines()
    assert len(approver) == 1
    assert approver[0].startswith("- none needed") == (facts.approver is None)
    assert len(re.findall(r"approves|may approve", approver[0])) <= 1

    moves = [c for c in t.changes if c.field == "group_id"]
    assert f"Previous handoffs: {len(moves) or 'none'}" in sections["Owner and next step"]
