"""decide(): every action, the merge rules, fire-once re-arming, after hours, authority,
idempotent notes, timers and explanations."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tiergate.plugin.core.decide import decide
from tiergate.plugin.core.manifest import load_manifest
from tiergate.plugin.core.model import Comment, Decision

from test_manifest_base import NOW, base_doc, comment, doc_with, enrichment, org, ticket

URGENT = {"all": [{"field": "priority", "operator": "is", "value": "urgent"}]}
URGENT_OR_OPEN = {"all": [{"field": "status", "operator": "is", "value": "open"}]}
SATURDAY = NOW + timedelta(days=3)          # 2026-11-28 13:00 UTC: support calendar closed


def trig(name, actions, conditions=None, **kw):
    return {"name": name, "conditions": conditions or URGENT, "actions": actions, **kw}


def run(*triggers, t=None, e=None, now=NOW, state=frozenset(), doc=None):
    m = load_manifest(doc or doc_with(*triggers))
    return decide(t or ticket(priority="urgent"), e or enrichment(), m, now, state), m


# -- each action ---------------------------------------------------------------------------------
def _tags(d):
    return set(d.update.add_tags)


ACTION_CASES = [
    ("add_tags", [{"action": "add_tags", "tags": ["a", "b"]}], None, None,
     lambda d: {"a", "b", "tg_fired_x"} <= _tags(d)),
    ("add_tags skips present", [{"action": "add_tags", "tags": ["a"]}],
     ticket(priority="urgent", tags=("a",)), None, lambda d: "a" not in d.update.add_tags),
    ("remove_tags", [{"action": "remove_tags", "tags": ["old", "absent"]}],
     ticket(priority="urgent", tags=("old",)), None, lambda d: d.update.remove_tags == ("old",)),
    ("set_priority", [{"action": "set_priority", "priority": "high"}],
     ticket(priority="urgent", tags=()), None,
     lambda d: d.update.priority == "high"),
    ("set_priority same", [{"action": "set_priority", "priority": "urgent"},
                           {"action": "add_tags", "tags": ["a"]}], ticket(priority="urgent"),
     None, lambda d: d.update.priority is None),
    ("note", [{"action": "note", "template": "note"}], None, None,
     lambda d: len(d.update.notes) == 1 and not d.update.notes[0].public
     and "Note for x: x: priority is urgent (seen: urgent)" in d.update.notes[0].body
     and re.search(rf"\[tiergate:{d.update.notes[0].fingerprint}\.[0-9a-f]{{16}}\]$",
                   d.update.notes[0].body)),
    ("note runtime failure", [{"action": "note", "template": "broken_at_runtime"}], None, None,
     lambda d: "failed" in d.update.notes[0].body),
    # the reply carries no marker; the promise is recorded in tiergate's private note of the
    # same update (the SLA commitment clock reads it there)
    ("public_update", [{"action": "public_update", "template": "promise"}], None, None,
     lambda d: [n.public for n in d.update.notes] == [True, False]
     and "We will update you by 16:00 CET" in d.update.notes[0].body     # 13:00Z + 2h, Berlin
     and "[tiergate" not in d.update.notes[0].body
     and "[tiergate-commitment:response:2026-11-25T15:00:00Z]" in d.update.notes[1].body
     and "a response by 2026-11-25 15:00 UTC" in d.update.notes[1].body
     and re.search(r"\[tiergate:[0-9a-f]{16}\.[0-9a-f]{16}\]$", d.update.notes[1].body)),
    ("public_update ack", [{"action": "public_update", "template": "promise",
                            "commitment": "ack"}], None, None,
     lambda d: "[tiergate" not in d.update.notes[0].body
     and "[tiergate-commitment:ack:2026-11-25T13:30:00Z]" in d.update.notes[1].body
     and not d.update.notes[1].public),
    ("escalate up", [{"action": "escalate", "to": "up"}], None, None,
     lambda d: d.escalation.to_tier == "tier_2" and d.escalation.kind == "hierarchical"
     and d.update.group_id == 102 and d.update.assignee_id == 202
     and d.escalation.from_tier == "tier_1"),
    ("escalate to tier", [{"action": "escalate", "to": "tier_3"}], None, None,
     lambda d: d.escalation.to_tier == "tier_3" and d.update.group_id == 103
     and any(not n.public for n in d.update.notes)),
    ("escalate functional", [{"action": "escalate", "to": "finance"}], None, None,
     lambda d: d.escalation.kind == "functional" and d.update.group_id == 110
     and d.update.assignee_id == 210),
    ("escalate no handoff note", [{"action": "escalate", "to": "tier_2",
                                   "handoff_note": False}], None, None,
     lambda d: d.escalation is not None and not d.update.notes),
    ("escalate with public", [{"action": "escalate", "to": "tier_2",
                               "public_template": "promise"}], None, None,
     lambda d: [n.public for n in d.update.notes] == [False, True]
     and "[tiergate" not in d.update.notes[1].body),
    ("escalate up at top", [{"action": "escalate", "to": "up"}],
     ticket(priority="urgent", group_id=104), None,
     lambda d: d.escalation is None and any("top tier" in r for r in d.reasons)),
    ("escalate to current", [{"action": "escalate", "to": "tier_1"}], None, None,
     lambda d: d.escalation is None and d.update.group_id is None),
    ("notify", [{"action": "notify", "route": "pager"}], None, None,
     lambda d: len(d.notifications) == 1 and d.notifications[0].kind == "webhook"
     and d.notifications[0].target == "https://pager.example/hook"
     and "#42" in d.notifications[0].subject and d.notifications[0].fingerprint),
    ("csm_outreach", [{"action": "csm_outreach"}], None, None,
     lambda d: "tg_csm_outreach" in _tags(d) and "outreach" in d.update.notes[0].body),
    ("goodwill_credit", [{"action": "goodwill_credit", "amount": 25, "tags": ["gw"]}], None,
     None, lambda d: "gw" in _tags(d) and "$25" in d.update.notes[0].body),
    ("authority within", [{"action": "authority_check"}], None,
     enrichment(amounts={"refund": 40.0}),
     lambda d: d.escalation is None and "tg_authority_within" in _tags(d)
     and "may approve it now" in d.update.notes[0].body
     and "$100" in d.update.notes[0].body),
    ("authority above", [{"action": "authority_check"}], None,
     enrichment(amounts={"refund": 2400.0}),
     lambda d: d.escalation.to_tier == "finance" and d.escalation.kind == "functional"
     and "tg_authority_above" in _tags(d)
     and any("$2,400" in n.body and "Finance" in n.body for n in d.update.notes)),
    ("authority discount approver", [{"action": "authority_check", "kinds": ["discount"]}],
     None, enrichment(amounts={"discount": 30.0, "refund": 5000.0}),
     lambda d: d.escalation.to_tier == "management"),
    ("authority nothing asked", [{"action": "authority_check"},
                                 {"action": "add_tags", "tags": ["a"]}], None, enrichment(),
     lambda d: d.escalation is None and not d.update.notes),
]


@pytest.mark.parametrize("actions,t,e,check", [c[1:] for c in ACTION_CASES],
                         ids=[c[0] for c in ACTION_CASES])
def test_action(actions, t, e, check):
    if any(a.get("action") == "set_priority" and a.get("priority") == "urgent" for a in actions):
        d, _ = run(trig("x", actions, conditions=URGENT_OR_OPEN), t=t, e=e)
    else:
        d, _ = run(trig("x", actions), t=t, e=e)
    assert [f.name for f in d.fired] == ["x"]
    assert check(d), d.to_dict()


# -- merge rules ---------------------------------------------------------------------------------
def test_merge_highest_rank_wins_and_one_update():
    d, _ = run(trig("a", [{"action": "escalate", "to": "tier_2"},
                          {"action": "add_tags", "tags": ["x"]},
                          {"action": "set_priority", "priority": "high"}]),
               trig("b", [{"action": "escalate", "to": "security"},
                          {"action": "remove_tags", "tags": ["x", "y"]}],
                    conditions={"all": [{"field": "status", "operator": "is", "value": "open"}]}),
               trig("c", [{"action": "escalate", "to": "tier_3"},
                          {"action": "set_priority", "priority": "low"}],
                    conditions={"all": [{"field": "age", "operator": "greater_than", "value": 1}]}),
               t=ticket(priority="normal", status="open", tags=("y",),
                        created_at=NOW - timedelta(hours=2)),
               e=enrichment())
    # priority is normal, so "a" (urgent) does not fire
    assert [f.name for f in d.fired] == ["b", "c"]
    assert d.escalation.to_tier == "security"          # rank 5 beats tier_3 order 3
    assert d.update.group_id == 111
    assert "y" in d.update.remove_tags
    assert d.update.priority == "low"
    assert any("outranked" in r for r in d.reasons)


def test_merge_ties_and_tag_conflicts():
    d, _ = run(trig("first", [{"action": "escalate", "to": "tier_3"},
                              {"action": "add_tags", "tags": ["k"]},
                              {"action": "set_priority", "priority": "high"}]),
               trig("second", [{"action": "escalate", "to": "tier_3"},
                               {"action": "remove_tags", "tags": ["k"]},
                               {"action": "set_priority", "priority": "low"}],
                    conditions={"all": [{"field": "status", "operator": "is", "value": "open"}]}),
               t=ticket(priority="urgent", tags=("k",)))
    assert d.escalation.trigger == "first"
    assert "k" not in d.update.remove_tags              # adding wins over removing
    assert d.update.priority == "high"                 # highest priority asked for


# -- fire once per episode -----------------------------------------------------------------------
def test_fire_once_and_rearm():
    triggers = [trig("x", [{"action": "add_tags", "tags": ["a"]},
                           {"action": "note", "template": "note"}])]
    m = load_manifest(doc_with(*triggers))
    urgent = ticket(priority="urgent")
    d1 = decide(urgent, enrichment(), m, NOW, frozenset())
    assert [f.name for f in d1.fired] == ["x"] and d1.fired_state == ("x",)
    assert "tg_fired_x" in d1.update.add_tags
    # same episode: nothing again, even with the tag gone
    d2 = decide(urgent, enrichment(), m, NOW + timedelta(minutes=5), frozenset(d1.fired_state))
    assert d2.fired == () and d2.update.is_empty() and d2.fired_state == ("x",)
    # condition false: re-armed, mirror tag removed
    calm = ticket(priority="normal", tags=("a", "tg_fired_x"))
    d3 = decide(calm, enrichment(), m, NOW + timedelta(minutes=10), frozenset(d2.fired_state))
    assert d3.rearmed == ("x",) and d3.fired_state == () and d3.fired == ()
    assert d3.update.remove_tags == ("tg_fired_x",)
    assert any("re-armed x" in r for r in d3.reasons)
    # true again: a new episode fires again
    again = ticket(priority="urgent", comments=urgent.comments + (
        comment(7, "end-user", 1, "again"),))
    d4 = decide(again, enrichment(), m, NOW + timedelta(minutes=15), frozenset(d3.fired_state))
    assert [f.name for f in d4.fired] == ["x"]
    assert d4.update.notes[0].fingerprint != d1.update.notes[0].fingerprint


def test_stale_fired_tags_are_cleaned():
    d, _ = run(trig("x", [{"action": "add_tags", "tags": ["a"]}]),
               t=ticket(priority="normal", tags=("tg_fired_gone",)), state=frozenset({"gone"}))
    assert d.update.remove_tags == ("tg_fired_gone",) and d.fired_state == ()


def test_disabled_trigger_never_fires():
    d, _ = run(trig("x", [{"action": "add_tags", "tags": ["a"]}], enabled=False))
    assert d.fired == () and d.update.is_empty()


# -- idempotent notes ----------------------------------------------------------------------------
def test_notes_already_in_thread_are_skipped():
    d1, m = run(trig("x", [{"action": "note", "template": "note"},
                           {"action": "add_tags", "tags": ["a"]}]))
    note = d1.update.notes[0]
    t = ticket(priority="urgent")
    rerun = ticket(priority="urgent", comments=t.comments + (
        Comment(99, 299, "agent", note.body, False, NOW),))
    d2 = decide(rerun, enrichment(), m, NOW, frozenset())
    assert d2.update.notes == ()
    assert any("already in the thread" in r for r in d2.reasons)
    assert [f.name for f in d2.fired] == ["x"]        # tags still written


# -- after hours ---------------------------------------------------------------------------------
def test_after_hours_escalation_goes_to_oncall():
    d, _ = run(trig("x", [{"action": "escalate", "to": "tier_3"}]),
               t=ticket(priority="urgent", created_at=SATURDAY - timedelta(hours=1)),
               now=SATURDAY)
    e = d.escalation
    assert e.after_hours and e.oncall_route == "pager"
    assert [n.route for n in d.notifications] == ["pager"]
    assert d.notifications[0].kind == "webhook"
    assert any("after hours" in n.body.lower() for n in d.update.notes)
    assert any("after hours" in r for r in d.reasons)


def test_after_hours_route_owner_takes_the_ticket():
    d, _ = run(trig("x", [{"action": "escalate", "to": "tier_2"}]),
               t=ticket(priority="urgent", created_at=SATURDAY - timedelta(hours=1)),
               now=SATURDAY)
    assert d.escalation.oncall_route == "mail" and d.escalation.owner_id == 299
    assert d.update.group_id == 102 and d.update.assignee_id == 299
    assert d.notifications[0].kind == "email"


@pytest.mark.parametrize("who,tags", [("no organization", ()), ("spam", ("spam",))])
def test_after_hours_without_an_organization_or_as_spam_pages_nobody(who, tags):
    doc = doc_with(trig("x", [{"action": "escalate", "to": "tier_2"}]))
    doc["oncall"]["page_requires_organization"] = True
    late = SATURDAY - timedelta(hours=1)
    d = decide(ticket(priority="urgent", created_at=late,
                      organization=org() if who == "spam" else None),
               enrichment(tags=tags), load_manifest(doc), SATURDAY, frozenset())
    e = d.escalation
    assert e.after_hours and e.oncall_route is None and d.notifications == ()
    assert d.update.assignee_id != 299 and "tg_oncall_paged" not in d.update.add_tags
    body = d.update.notes[0].body
    assert "nobody was paged" in body and "on-call paged" not in body
    assert any(f"no on-call page: {'the message reads as spam' if tags else 'the sender'}" in r
               for r in d.reasons)
    paged = decide(ticket(priority="urgent", created_at=late, organization=org()),
                   enrichment(), load_manifest(doc), SATURDAY, frozenset())
    assert paged.escalation.oncall_route == "mail" and paged.update.assignee_id == 299
    assert [n.route for n in paged.notifications] == ["mail"]


def test_open_team_is_not_after_hours():
    d, _ = run(trig("x", [{"action": "escalate", "to": "security"}]),
               t=ticket(priority="urgent", created_at=SATURDAY - timedelta(hours=1)),
               now=SATURDAY)
    assert not d.escalation.after_hours and d.notifications == ()


# -- timers, clocks, explanations ----------------------------------------------------------------
def test_timers_for_time_conditions_and_sla():
    cond = {"all": [{"field": "age", "operator": "greater_than", "value": 3}]}
    d, _ = run(trig("late", [{"action": "add_tags", "tags": ["late"]}], conditions=cond),
               t=ticket(priority="urgent", created_at=NOW - timedelta(minutes=10)))
    kinds = {(t.kind, t.name, t.stage) for t in d.timers}
    assert ("trigger", "late", "") in kinds
    at = [t.at for t in d.timers if t.name == "late"][0]
    assert at == NOW + timedelta(hours=2, minutes=50, seconds=1)
    assert any(t.kind == "sla" for t in d.timers)           # urgent policy: first reply
    assert [c.metric for c in d.clocks] == ["first_reply_time"]
    assert d.timers == tuple(sorted(d.timers, key=lambda t: (t.at, t.kind, t.name, t.stage)))


def test_sla_fields_use_clocks():
    cond = {"all": [{"field": "sla.first_reply_time.pct_elapsed", "operator": "greater_than",
                     "value": 50}]}
    d, _ = run(trig("slow", [{"action": "add_tags", "tags": ["slow"]}], conditions=cond),
               t=ticket(priority="urgent", created_at=NOW - timedelta(minutes=45)))
    assert [f.name for f in d.fired] == ["slow"]
    held = d.fired[0].conditions[0]
    assert held.actual == 75.0


def test_reasons_and_round_trip():
    d, _ = run(trig("x", [{"action": "escalate", "to": "up"}], description="urgent work"))
    assert d.reasons[0].startswith("fired x (urgent work): priority is urgent (seen: urgent)")
    assert any(r.startswith("escalate hierarchical tier_1 -> tier_2") for r in d.reasons)
    back = Decision.from_dict(json.loads(json.dumps(d.to_dict())))
    assert back.escalation == d.escalation and back.update == d.update
    assert d.manifest_version and d.at == NOW


def test_calm_ticket_untouched_by_repo_manifest():
    from pathlib import Path

    m = load_manifest(Path(__file__).resolve().parent.parent / "manifest.json")
    t = ticket(priority="low", status="new", created_at=NOW - timedelta(minutes=30),
               comments=(comment(1, "end-user", 30, "How do I export invoices? Thanks"),),
               organization=org(segment="smb", account_value=1200,
                                renewal_at=NOW + timedelta(days=200), tags=()))
    d = decide(t, enrichment(sentiment=0.4, sentiment_label="positive"), m, NOW, frozenset())
    assert d.fired == () and d.update.is_empty() and d.escalation is None


def test_manual_escalation_without_context_asks_for_it():
    from tiergate.plugin.core.model import Change

    moved = ticket(priority="normal", group_id=102, assignee_id=202,
                   changes=(Change(NOW - timedelta(minutes=5), "group_id", 101, 102, 201),))
    d, m = run(trig("x", [{"action": "add_tags", "tags": ["a"]}]), t=moved)
    assert d.fired == () and d.escalation is None
    assert "handoff_incomplete" in d.update.add_tags
    assert d.update.notes and not d.update.notes[0].public
    assert any("manual escalation" in r for r in d.reasons)
    # idempotent: the note already in the thread is not written again
    again = ticket(priority="normal", group_id=102, assignee_id=202, changes=moved.changes,
                   tags=("handoff_incomplete",),
                   comments=moved.comments + (Comment(9, 299, "agent", d.update.notes[0].body,
                                                      False, NOW),))
    d2 = decide(again, enrichment(), m, NOW, frozenset())
    assert d2.update.notes == () and "handoff_incomplete" not in d2.update.add_tags


def test_timers_only_when_the_rest_already_holds():
    cond = {"all": [{"field": "age", "operator": "greater_than", "value": 3},
                    {"field": "status", "operator": "is", "value": "pending"}]}
    d, _ = run(trig("late", [{"action": "add_tags", "tags": ["late"]}], conditions=cond),
               t=ticket(priority="urgent", status="open"))
    assert not [t for t in d.timers if t.kind == "trigger"]      # status change re-decides
    d, _ = run(trig("late", [{"action": "add_tags", "tags": ["late"]}], conditions=cond),
               t=ticket(priority="urgent", status="pending"))
    assert [t.name for t in d.timers if t.kind == "trigger"] == ["late"]


# -- authority: one note per amount, whichever rules check it -----------------------------------
def test_money_at_stake_that_is_the_refund_asked_gets_one_authority_note():
    """Demo ticket 8: one rule checks the money at stake, another the refund asked; both are the
    same $40, so the agent reads one note about the refund (never "a money of $40")."""
    doc = doc_with(trig("money_rule", [{"action": "authority_check", "kinds": ["money"]}]),
                   trig("refund_rule", [{"action": "authority_check"}]))
    doc["authority"]["limits"]["tier_1"]["money"] = 100
    e = enrichment(amounts={"refund": 40.0}, stakes={"money": 40.0})
    d, _ = run(doc=doc, e=e)
    assert [f.name for f in d.fired] == ["money_rule", "refund_rule"]
    (note,) = d.update.notes
    assert not note.public and note.body.count("[tiergate:") == 1
    assert "refund of $40" in note.body and "may approve it now" in note.body.replace("\n", " ")
    assert "money" not in note.body.split("[tiergate:")[0]
    # the same ticket state decided again writes the same note (same fingerprint)
    again, _ = run(doc=doc, e=e)
    assert [n.fingerprint for n in again.update.notes] == [note.fingerprint]


def test_money_at_stake_alone_reads_as_an_amount():
    doc = doc_with(trig("money_rule", [{"action": "authority_check", "kinds": ["money"]}]))
    doc["authority"]["limits"]["tier_1"]["money"] = 100
    d, _ = run(doc=doc, e=enrichment(stakes={"money": 40.0}))
    (note,) = d.update.notes
    assert "amount of $40" in note.body and "money" not in note.body.split("[tiergate:")[0]
