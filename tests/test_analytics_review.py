"""Review: accepted / deferred classification, the seeded monthly sample, review records and
the Markdown postmortem."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from test_analytics_history import TIERS, db_url, history  # noqa: F401

from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.analytics.review import (candidates, draw, postmortem_markdown, record_review,
                                              sample)
from tiergate.plugin.core.model import (Change, Comment, Decision, Enrichment, Escalation,
                                        FiredTrigger, Ticket)

JUNE = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)


def _ticket(tid, created, at, *, status="open", group=101, comments=(), changes=()):
    return Ticket(id=tid, subject=f"june {tid}", description="", status=status, priority="normal", type="incident",
                  group_id=group, assignee_id=None, requester_id=1, organization_id=None, tags=(), channel="web",
                  created_at=created, updated_at=at, comments=tuple(comments), changes=tuple(changes))


def june_history(log: DecisionLog) -> dict[str, list[int]]:
    """10 accepted, 8 deferred (5 sent back, 3 resolved without acting), 2 pending, in June;
    plus one escalation in July that June must ignore."""
    kinds = {"accepted": [], "deferred": [], "pending": []}
    for tid in range(100, 121):
        created = JUNE + timedelta(hours=tid - 100)
        esc_at = created + timedelta(minutes=20)
        if tid == 120:
            created, esc_at = created + timedelta(days=40), created + timedelta(days=40, minutes=5)
        d = Decision(ticket_id=tid, at=esc_at, manifest_version="m", fired=(FiredTrigger("t"),),
                     escalation=Escalation(from_tier="tier_1", to_tier="tier_2", kind="hierarchical", group_id=102,
                                           owner_id=None, trigger="t"))
        log.record(d, _ticket(tid, created, esc_at), Enrichment(attention_score=70, sentiment=0,
                                                                sentiment_label="neutral", complaint=False),
                   helpdesk="zendesk", delivery_id=f"d{tid}")
        later = esc_at + timedelta(hours=1)
        reply = Comment(id=tid, author_id=202, author_role="agent", body="on it", public=True, created_at=later)
        note = Comment(id=tid + 1000, author_id=299, author_role="agent", body="handoff\n[tiergate:abc]",
                       public=False, created_at=later)
        moved = Change(at=esc_at, field="group_id", old=101, new=102)
        if tid < 110 or tid == 120:        # worked and solved (or still open) in tier 2
            t = _ticket(tid, created, later, status="solved" if tid % 2 else "open", group=102,
                        comments=[reply], changes=[moved])
            kinds["accepted"].append(tid)
        elif tid < 115:                    # sent back to tier 1
            t = _ticket(tid, created, later, group=101, comments=[reply],
                        changes=[moved, Change(at=later, field="group_id", old=102, new=101)])
            kinds["deferred"].append(tid)
        elif tid < 118:                    # solved in tier 2 with only tiergate's own note after it
            t = _ticket(tid, created, later, status="solved", group=102, comments=[note], changes=[moved])
            kinds["deferred"].append(tid)
        else:                              # open in tier 2, nobody acted yet
            t = _ticket(tid, created, later, group=102, changes=[moved])
            kinds["pending"].append(tid)
        log.observe(t, later, helpdesk="zendesk")
    kinds["accepted"].remove(120)
    return kinds


@pytest.fixture
def june(db_url):
    log = DecisionLog(db_url, tier_of_group=TIERS)
    kinds = june_history(log)
    yield log, kinds
    log.close()


def test_classification_of_the_may_history(history):
    got = {c.facts.ticket_id: (c.outcome, c.why) for c in candidates(history.facts(), "2024-05", history.tier_of)}
    assert got == {
        1: ("accepted", "resolved in tier_2, worked there after the escalation"),
        3: ("deferred", "sent back: resolved in tier_1, escalated to tier_3"),
        4: ("accepted", "now in tier_2, worked there after the escalation"),
    }
    assert [c.facts.ticket_id for c in candidates(history.facts(), "2024-04", history.tier_of)] == [7]


def test_classification_of_june(june):
    log, kinds = june
    found = candidates(log.facts(), "2024-06", log.tier_of)
    by_outcome = {k: sorted(c.facts.ticket_id for c in found if c.outcome == k) for k in kinds}
    assert by_outcome == kinds
    assert 120 not in {c.facts.ticket_id for c in found}           # escalated in July
    why = {c.facts.ticket_id: c.why for c in found}
    assert why[115] == "resolved in tier_2 without an agent acting after the escalation"
    assert why[118] == "open in tier_2, nobody acted yet"


def test_sample_is_reproducible_and_balanced(june):
    log, kinds = june
    first = [c.facts.ticket_id for c in draw(log, "2024-06", seed=42, store=False)]
    again = [c.facts.ticket_id for c in draw(log, "2024-06", seed=42, store=False)]
    assert first == again and len(first) == 6
    assert set(first[:3]) <= set(kinds["accepted"]) and set(first[3:]) <= set(kinds["deferred"])
    others = {tuple(c.facts.ticket_id for c in draw(log, "2024-06", seed=s, store=False)) for s in range(1, 8)}
    assert len(others | {tuple(first)}) > 1                        # the seed matters
    # the sample depends on the seed and the month only, not on the order rows come back in
    found = candidates(log.facts(), "2024-06", log.tier_of)
    assert [c.key for c in sample(list(reversed(found)), "2024-06", 42)] == [c.key for c in sample(found, "2024-06", 42)]
    assert len(sample(found, "2024-06", 42, per_kind=10)) == 10 + 8


def test_draw_queues_reviews_once_and_keeps_recorded_ones(june):
    log, _ = june
    chosen = draw(log, "2024-06", seed=3)
    queued = log.reviews("2024-06")
    assert sorted(r.ticket_id for r in queued) == sorted(c.facts.ticket_id for c in chosen)
    assert {r.status for r in queued} == {"queued"} and {r.seed for r in queued} == {"3"}
    assert all(r.decision_id for r in queued)
    target = chosen[0].facts.ticket_id
    record_review(log, "zendesk", target, necessary=True, root_cause="product_bug", follow_up="product_bug")
    draw(log, "2024-06", seed=3)
    again = {r.ticket_id: r for r in log.reviews("2024-06")}
    assert len(again) == 6
    assert (again[target].status, again[target].root_cause, again[target].follow_up_status) == (
        "reviewed", "product_bug", "open")


def test_record_review_validates(history):
    row = record_review(history, "zendesk", 3, necessary=False, lower_tier_could_resolve=True,
                        root_cause="Misrouted", follow_up="knowledge-base", follow_up_status="in progress",
                        notes="check the status page first", reviewer="dee")
    assert (row.month, row.root_cause, row.follow_up, row.follow_up_status) == (
        "2024-05", "misrouted", "knowledge_base", "in_progress")
    assert (row.necessary, row.lower_tier_could_resolve, row.status) == (False, True, "reviewed")
    with pytest.raises(ValueError, match="root_cause: 'bad_luck' is not one of knowledge_gap"):
        record_review(history, "zendesk", 3, root_cause="bad luck")
    with pytest.raises(ValueError, match="follow_up_status"):
        record_review(history, "zendesk", 3, follow_up_status="someday")
    with pytest.raises(ValueError, match="#2 on zendesk was never escalated"):
        record_review(history, "zendesk", 2)
    with pytest.raises(ValueError, match="#99 on zendesk is not in the decision log"):
        record_review(history, "zendesk", 99)
    with pytest.raises(ValueError, match="months run 01-12"):
        record_review(history, "zendesk", 3, month="2024-13")


def test_postmortem_markdown(history):
    record_review(history, "zendesk", 3, necessary=False, lower_tier_could_resolve=True, root_cause="misrouted",
                  follow_up="training", follow_up_status="done", customer_impact="checkout down for 7 hours",
                  preventive_steps="- add a status-page check to the tier 1 runbook\nalert on outage tags",
                  reviewer="dee")
    md = postmortem_markdown(history, "zendesk", 3)
    sections = [line for line in md.splitlines() if line.startswith("#")]
    assert sections == ["# Postmortem: ticket #3 — ticket 3", "## Customer impact", "## Evidence",
                        "## Timeline", "## Review", "## Preventive steps"]
    for line in ("- Time to escalation: 60 min", "- Time to resolution: 7.0 h",
                 "- Reopened: 1 time(s); handoffs between groups: 2", "- Satisfaction: good",
                 "- SLA at escalation: breached", "- Reviewer: checkout down for 7 hours",
                 "- 2024-05-03 01:00 UTC: fired sla_breach; escalated tier_1 → tier_3 (hierarchical); attention 90; manifest m1",
                 "  - risk tags: outage, churn",
                 "- 2024-05-03 00:00 UTC — ticket created",
                 "- 2024-05-03 03:00 UTC — group: 103 (tier_3) → 101 (tier_1)",
                 "- 2024-05-03 06:00 UTC — status: solved → open",
                 "- Could a lower tier have resolved it: yes", "- Root cause: misrouted",
                 "- [x] Follow-up: training — done", "- add a status-page check to the tier 1 runbook",
                 "- alert on outage tags", "- Escalation outcome: **deferred** (sent back: resolved in tier_1, escalated to tier_3)"):
        assert line in md.splitlines(), line
    timeline = md.split("## Timeline")[1].split("## Review")[0].strip().splitlines()
    assert timeline == sorted(timeline)                           # oldest first
    unreviewed = postmortem_markdown(history, "zendesk", 4)
    assert "_Not reviewed yet._" in unreviewed and "_None recorded yet._" in unreviewed
    with pytest.raises(ValueError, match="not in the decision log"):
        postmortem_markdown(history, "zendesk", 42)
