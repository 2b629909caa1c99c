"""SLA clocks from ticket history with a controlled clock: metrics, pauses, re-plans, tightening,
business hours (weekends, holidays, DST), commitments, timers and condition fields."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiergate.plugin.core.model import (Change, ClockState, Comment, Enrichment, Organization,
                                        Ticket, Timer)
from tiergate.plugin.core.sla import (clocks, commitment_due, commitment_marker,
                                      condition_fields, stage, timers)
from tiergate.plugin.core.sla_schema import load_sections

UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


DOC = {
    "calendars": {
        "eu": {"time_zone": "Europe/Berlin",
               "intervals": [{"day": "mon-fri", "start": "09:00", "end": "17:00"}],
               "holidays": {"country": "DE", "subdivision": "BE", "dates": ["2024-03-13"]}},
        "us": {"time_zone": "America/New_York",
               "intervals": [{"day": "mon-fri", "start": "09:00", "end": "17:00"}]},
    },
    "sla": {
        "warn_at": [75],
        "default_calendar": "eu",
        "policies": [
            {"name": "urgent", "match": {"priorities": ["urgent"]},
             "metrics": [{"metric": "first_reply_time", "target_minutes": 30},
                         {"metric": "resolution_time", "target_minutes": 240}]},
            {"name": "enterprise-high", "match": {"priorities": ["high"], "segments": ["enterprise", "vip"]},
             "metrics": [{"metric": "first_reply_time", "target_minutes": 60, "business_hours": True},
                         {"metric": "next_reply_time", "target_minutes": 120, "business_hours": True}],
             "tighten": [{"name": "vip", "when": {"vip": True}, "factor": 0.5},
                         {"name": "renewal", "when": {"renewal_within_days": 30}, "factor": 0.75},
                         {"name": "angry", "when": {"attention_score_above": 80}, "target_minutes": 20,
                          "metrics": ["first_reply_time"]},
                         {"name": "big", "when": {"account_value_above": 100000}, "factor": 0.9}]},
            {"name": "us-business", "match": {"priorities": ["low"]},
             "metrics": [{"metric": "first_reply_time", "target_minutes": 120, "business_hours": True,
                          "calendar": "us"}]},
            {"name": "default",
             "metrics": [{"metric": "first_reply_time", "target_minutes": 240},
                         {"metric": "next_reply_time", "target_minutes": 240},
                         {"metric": "periodic_update_time", "target_minutes": 240},
                         {"metric": "requester_wait_time", "target_minutes": 600},
                         {"metric": "resolution_time", "target_minutes": 1440}]},
        ],
        "commitments": {"acknowledgement": 30, "response_window": 120},
    },
}
CALENDARS, SLA, ERRORS = load_sections(DOC)
assert ERRORS == [], ERRORS
MANIFEST = {"sla": SLA, "calendars": CALENDARS}

T0 = utc(2024, 3, 11, 8, 0)   # Monday 09:00 CET
_ids = iter(range(1, 10**6))


def com(role: str, minutes: float, body: str = "text", public: bool = True) -> Comment:
    return Comment(id=next(_ids), author_id=1 if role == "end-user" else 201, author_role=role,
                   body=body, public=public, created_at=T0 + timedelta(minutes=minutes))


def status(minutes: float, old: str, new: str) -> Change:
    return Change(at=T0 + timedelta(minutes=minutes), field="status", old=old, new=new)


def ticket(*, priority="normal", status_now="open", comments=None, changes=(), org=None,
           created=T0, tags=()) -> Ticket:
    comments = comments if comments is not None else [com("end-user", 0, "help me")]
    return Ticket(id=7, subject="s", description="help me", status=status_now, priority=priority,
                  type=None, group_id=101, assignee_id=None, requester_id=1,
                  organization_id=org.id if org else None, tags=tuple(tags), channel="web",
                  created_at=created, updated_at=created, comments=tuple(comments),
                  organization=org, changes=tuple(changes))


def enr(score: int = 10) -> Enrichment:
    return Enrichment(attention_score=score, sentiment=0.0, sentiment_label="neutral", complaint=False)


def by_metric(states) -> dict[str, ClockState]:
    return {c.metric: c for c in states}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# -- metrics ---------------------------------------------------------------------------------------
def test_first_reply_running_with_warn_and_breach_instants():
    c = by_metric(clocks(ticket(priority="urgent"), enr(), MANIFEST, at(10)))
    fr = c["first_reply_time"]
    assert fr.policy == "urgent" and fr.target_minutes == 30 and fr.elapsed_minutes == 10
    assert not fr.breached and not fr.paused and fr.started_at == T0
    assert fr.due_at == at(30) and fr.warn_at == ((75, "2024-03-11T08:22:30Z"),)
    assert [(t.name, t.stage, t.at) for t in timers(c.values())] == [
        ("first_reply_time", "warn:75", at(22.5)), ("first_reply_time", "breach", at(30)),
        ("resolution_time", "warn:75", at(180)), ("resolution_time", "breach", at(240))]


def test_first_reply_fulfilled_by_public_human_agent_comment_only():
    base = [com("end-user", 0)]
    private = base + [com("agent", 5, "internal", public=False)]
    bot = base + [com("agent", 6, "We got it.\n[tiergate:abc123]")]
    human = base + [com("agent", 7, "Hi, looking into it")]
    assert "first_reply_time" in by_metric(clocks(ticket(comments=private), None, MANIFEST, at(10)))
    assert "first_reply_time" in by_metric(clocks(ticket(comments=bot), None, MANIFEST, at(10)))
    assert "first_reply_time" not in by_metric(clocks(ticket(comments=human), None, MANIFEST, at(10)))
    # agent-created ticket: its own first comment is the description, not a reply
    agent_made = [com("agent", 0, "opened on behalf of customer")]
    assert "first_reply_time" in by_metric(clocks(ticket(comments=agent_made), None, MANIFEST, at(1)))


def test_next_reply_starts_at_oldest_unanswered_customer_comment():
    comments = [com("end-user", 0), com("agent", 10), com("end-user", 20), com("end-user", 25)]
    c = by_metric(clocks(ticket(comments=comments), None, MANIFEST, at(60)))
    assert c["next_reply_time"].started_at == at(20) and c["next_reply_time"].elapsed_minutes == 40
    answered = comments + [com("agent", 70)]
    assert "next_reply_time" not in by_metric(clocks(ticket(comments=answered), None, MANIFEST, at(80)))
    # before any first reply, next reply is not running (first reply covers it)
    early = [com("end-user", 0), com("end-user", 5)]
    assert "next_reply_time" not in by_metric(clocks(ticket(comments=early), None, MANIFEST, at(10)))


def test_periodic_update_counts_from_last_public_agent_update_including_tiergate_notes():
    comments = [com("end-user", 0), com("agent", 10),
                com("agent", 50, "We will update you by 14:00\n[tiergate:f00]")]
    c = by_metric(clocks(ticket(comments=comments), None, MANIFEST, at(100)))
    assert c["periodic_update_time"].started_at == at(50)
    assert c["periodic_update_time"].elapsed_minutes == 50


def test_solved_ticket_has_no_clocks_and_reopen_resumes_without_solved_time():
    solved = ticket(status_now="solved", changes=[status(30, "open", "solved")])
    assert clocks(solved, None, MANIFEST, at(60)) == ()
    reopened = ticket(changes=[status(30, "open", "solved"), status(90, "solved", "open")])
    c = by_metric(clocks(reopened, None, MANIFEST, at(120)))
    assert c["resolution_time"].elapsed_minutes == 30 + 30


# -- pauses ----------------------------------------------------------------------------------------
def test_pending_pauses_and_resume_continues():
    changes = [status(0, "new", "open"), status(20, "open", "pending"), status(80, "pending", "open")]
    t = ticket(comments=[com("end-user", 0), com("agent", 15)], changes=changes)
    c = by_metric(clocks(t, None, MANIFEST, at(100)))
    res = c["resolution_time"]
    assert res.elapsed_minutes == 20 + 20 and not res.paused
    assert res.due_at == at(100 + 1440 - 40)


def test_paused_clock_has_no_due_instant_and_no_timers():
    changes = [status(20, "open", "hold")]
    t = ticket(status_now="hold", comments=[com("end-user", 0), com("agent", 15)], changes=changes)
    c = by_metric(clocks(t, None, MANIFEST, at(300)))
    res, wait = c["resolution_time"], c["requester_wait_time"]
    assert res.paused and res.elapsed_minutes == 20 and res.due_at is None and res.warn_at == ()
    # requester wait pauses only on pending: on-hold still makes the requester wait
    assert not wait.paused and wait.elapsed_minutes == 300
    assert {t.name for t in timers(c.values())} == {"requester_wait_time"}


def test_without_status_history_a_pending_ticket_ran_until_its_last_update():
    t = ticket(status_now="pending", comments=[com("end-user", 0), com("agent", 15)])
    t = Ticket.from_dict({**t.to_dict(), "updated_at": "2024-03-11T08:50:00Z"})
    res = by_metric(clocks(t, None, MANIFEST, at(300)))["resolution_time"]
    assert res.paused and res.elapsed_minutes == 50


def test_breach_instant_in_the_past_is_kept_and_paused_after_breach():
    changes = [status(250, "open", "pending")]
    t = ticket(priority="urgent", status_now="pending", changes=changes)
    c = by_metric(clocks(t, None, MANIFEST, at(400)))
    res = c["resolution_time"]
    assert res.breached and res.paused and res.due_at == at(240) and res.elapsed_minutes == 250
    assert res.warn_at == ((75, "2024-03-11T11:00:00Z"),)
    assert timers(c.values()) == ()


# -- re-plan and tightening --------------------------------------------------------------------------
def test_priority_change_replans_at_once_from_the_original_start():
    normal = ticket(priority="normal")
    before = by_metric(clocks(normal, None, MANIFEST, at(20)))["first_reply_time"]
    assert before.policy == "default" and before.due_at == at(240)
    raised = ticket(priority="urgent",
                    changes=[Change(at=at(20), field="priority", old="normal", new="urgent")])
    after = by_metric(clocks(raised, None, MANIFEST, at(20)))["first_reply_time"]
    assert after.policy == "urgent" and after.due_at == at(30) and after.started_at == T0
    assert [t.stage for t in timers([after])] == ["warn:75", "breach"]
    late = by_metric(clocks(raised, None, MANIFEST, at(35)))["first_reply_time"]
    assert late.breached and stage(late) == "breach"


def test_segment_selects_policy_and_business_hours_apply():
    org = Organization(id=3, name="Acme", segment="enterprise")
    fri_1630 = utc(2024, 3, 15, 15, 30)      # Friday 16:30 CET
    t = ticket(priority="high", org=org, created=fri_1630,
               comments=[Comment(1, 1, "end-user", "x", True, fri_1630)])
    fr = by_metric(clocks(t, enr(), MANIFEST, fri_1630 + timedelta(hours=1)))["first_reply_time"]
    assert fr.policy == "enterprise-high" and fr.business_hours
    assert fr.elapsed_minutes == 30                        # closes at 17:00
    assert fr.due_at == utc(2024, 3, 18, 8, 30)           # Monday 09:30 CET
    smb = ticket(priority="high", org=Organization(id=4, name="Tiny", segment="smb"), created=fri_1630)
    assert by_metric(clocks(smb, None, MANIFEST, fri_1630))["first_reply_time"].policy == "default"


def test_holiday_in_business_hours_clock():
    org = Organization(id=3, name="Acme", segment="enterprise")
    tue_1630 = utc(2024, 3, 12, 15, 30)     # 16:30 CET; Wed 13 March is an explicit holiday
    t = ticket(priority="high", org=org, created=tue_1630,
               comments=[Comment(1, 1, "end-user", "x", True, tue_1630)])
    fr = by_metric(clocks(t, None, MANIFEST, tue_1630))["first_reply_time"]
    assert fr.due_at == utc(2024, 3, 14, 8, 30)           # 30 min Tuesday + 30 min Thursday


def test_dst_weekend_in_new_york_business_clock():
    fri_1600 = utc(2024, 3, 8, 21, 0)       # 16:00 EST, DST starts Sunday 10 March
    t = ticket(priority="low", created=fri_1600, comments=[Comment(1, 1, "end-user", "x", True, fri_1600)])
    fr = by_metric(clocks(t, None, MANIFEST, fri_1600))["first_reply_time"]
    assert fr.due_at == utc(2024, 3, 11, 14, 0)           # Monday 10:00 EDT
    assert fr.warn_at == ((75, "2024-03-11T13:30:00Z"),)


@pytest.mark.parametrize("org,score,now_min,target", [
    (Organization(3, "A", segment="enterprise"), 10, 0, 60),
    (Organization(3, "A", segment="vip"), 10, 0, 30),
    (Organization(3, "A", segment="enterprise", tags=("vip",)), 10, 0, 30),
    (Organization(3, "A", segment="enterprise", renewal_at=utc(2024, 4, 1)), 10, 0, 45),
    (Organization(3, "A", segment="enterprise", renewal_at=utc(2024, 6, 1)), 10, 0, 60),
    (Organization(3, "A", segment="enterprise", renewal_at=utc(2024, 3, 1)), 10, 0, 60),   # past
    (Organization(3, "A", segment="enterprise"), 95, 0, 20),
    (Organization(3, "A", segment="enterprise", account_value=250000.0), 10, 0, 54),
    (Organization(3, "A", segment="vip", account_value=250000.0, renewal_at=utc(2024, 3, 20)), 95, 0, 20),
])
def test_tightening_takes_the_tightest_target(org, score, now_min, target):
    t = ticket(priority="high", org=org)
    fr = by_metric(clocks(t, enr(score), MANIFEST, at(now_min)))["first_reply_time"]
    assert fr.target_minutes == pytest.approx(target)


def test_renewal_tightening_depends_on_now():
    org = Organization(3, "A", segment="enterprise", renewal_at=utc(2024, 4, 15))
    t = ticket(priority="high", org=org)
    assert by_metric(clocks(t, None, MANIFEST, T0))["first_reply_time"].target_minutes == 60
    later = utc(2024, 3, 18, 8)
    assert by_metric(clocks(t, None, MANIFEST, later))["first_reply_time"].target_minutes == 45


# -- commitments -------------------------------------------------------------------------------------
def bot_note(minutes: float, body: str) -> Comment:
    """tiergate's own private note (its helpdesk user 299), where it records its promises."""
    return Comment(id=next(_ids), author_id=299, author_role="agent", body=body, public=False,
                   created_at=T0 + timedelta(minutes=minutes))


def test_commitment_marker_starts_a_clock_until_a_human_replies():
    due = commitment_due(MANIFEST, "ack", at(5))
    assert due == at(35)
    reply = com("agent", 5, "We received your request and will reply by 09:35.")
    reply = Comment(reply.id, 299, "agent", reply.body, True, reply.created_at)
    note = bot_note(5, f"Promised an acknowledgement.\n{commitment_marker('ack', due)}\n"
                       "[tiergate:fp1]")
    t = ticket(comments=[com("end-user", 0), reply, note])
    c = by_metric(clocks(t, None, MANIFEST, at(20)))
    ack = c["acknowledgement"]
    assert ack.policy == "commitment" and ack.target_minutes == 30 and ack.elapsed_minutes == 15
    assert ack.due_at == at(35) and ack.warn_at == ((75, "2024-03-11T08:27:30Z"),)
    assert "first_reply_time" in c            # the promise is not a reply
    replied = ticket(comments=[com("end-user", 0), reply, note, com("agent", 25, "Hello!")])
    assert "acknowledgement" not in by_metric(clocks(replied, None, MANIFEST, at(30)))


@pytest.mark.parametrize("author,public", [(201, False), (201, True), (1, True)])
def test_a_commitment_marker_written_by_anyone_else_starts_no_clock(author, public):
    """Only tiergate's own comments record its promises: marker text pasted by an agent or a
    customer is not a promise."""
    pasted = Comment(id=next(_ids), author_id=author, author_role="end-user" if author == 1
                     else "agent", body=f"ok {commitment_marker('ack', at(35))}", public=public,
                     created_at=at(5))
    t = ticket(comments=[com("end-user", 0), pasted])
    assert "acknowledgement" not in by_metric(clocks(t, None, MANIFEST, at(20)))
    assert "acknowledgement" in by_metric(clocks(
        ticket(comments=[com("end-user", 0), bot_note(5, pasted.body)]), None, MANIFEST, at(20)))


def test_response_window_commitment_and_latest_marker_wins():
    first = bot_note(5, f"update soon {commitment_marker('response', at(125))}")
    second = bot_note(60, f"update by 12:00 {commitment_marker('response_window', at(240))}")
    t = ticket(comments=[com("end-user", 0), first, second])
    rw = by_metric(clocks(t, None, MANIFEST, at(100)))["response_window"]
    assert rw.started_at == at(60) and rw.due_at == at(240) and rw.target_minutes == 180
    assert commitment_marker("response", utc(2024, 3, 11, 12, 0, 0, 500)) == \
        "[tiergate-commitment:response:2024-03-11T12:00:00Z]"
    with pytest.raises(ValueError):
        commitment_marker("pizza", at(0))


# -- timers and conditions ---------------------------------------------------------------------------
def test_timers_only_for_stages_not_yet_reached():
    c = by_metric(clocks(ticket(priority="urgent"), None, MANIFEST, at(25)))
    fr_timers = [t for t in timers(c.values()) if t.name == "first_reply_time"]
    assert fr_timers == [Timer(at=at(30), kind="sla", name="first_reply_time", stage="breach")]
    assert stage(c["first_reply_time"]) == "warn:75"
    c = by_metric(clocks(ticket(priority="urgent"), None, MANIFEST, at(31)))
    assert [t for t in timers(c.values()) if t.name == "first_reply_time"] == []


def test_condition_fields():
    states = clocks(ticket(priority="urgent"), None, MANIFEST, at(24))
    f = condition_fields(states)
    assert f["sla.first_reply_time.pct_elapsed"] == 80.0
    assert f["sla.first_reply_time.breached"] is False
    assert f["sla.first_reply_time.remaining_minutes"] == 6
    assert f["sla.first_reply_time.stage"] == "warn:75"
    assert f["sla.max_pct_elapsed"] == 80.0 and f["sla.any_breached"] is False
    assert f["sla.metrics"] == ("first_reply_time", "resolution_time")
    assert condition_fields(())["sla.max_pct_elapsed"] == 0.0


def test_seconds_scale_one_minute_target():
    fast = load_sections({"sla": {"policies": [{"name": "fast", "metrics": [
        {"metric": "first_reply_time", "target_minutes": 1}]}]}})
    m = {"sla": fast[1], "calendars": fast[0]}
    states = clocks(ticket(), None, m, T0 + timedelta(seconds=10))
    assert [(t.stage, (t.at - T0).total_seconds()) for t in timers(states)] == [
        ("warn:75", 45.0), ("breach", 60.0)]


def test_clock_state_round_trips_as_json():
    for c in clocks(ticket(priority="urgent"), None, MANIFEST, at(24)):
        assert ClockState.from_dict(c.to_dict()) == c


@settings(max_examples=60, deadline=None)
@given(offset=st.integers(0, 7 * 24 * 60), prio=st.sampled_from(["urgent", "high", "low", "normal"]),
       seg=st.sampled_from([None, "enterprise", "vip"]))
def test_timer_instants_are_exact(offset, prio, seg):
    """At each planned instant the stage is reached; one second before it is not."""
    created = T0 + timedelta(minutes=offset)
    org = Organization(3, "A", segment=seg) if seg else None
    t = ticket(priority=prio, org=org, created=created,
               comments=[Comment(1, 1, "end-user", "x", True, created)])
    for timer in timers(clocks(t, None, MANIFEST, created)):
        now_states = by_metric(clocks(t, None, MANIFEST, timer.at))
        before = by_metric(clocks(t, None, MANIFEST, timer.at - timedelta(seconds=1)))
        c, b = now_states[timer.name], before[timer.name]
        if timer.stage == "breach":
            assert c.breached and not b.breached
        else:
            pct = int(timer.stage.split(":")[1])
            assert c.pct_elapsed >= pct > b.pct_elapsed


@settings(max_examples=200, deadline=None)
@given(cal_name=st.sampled_from(["eu", "us", None]), start=st.integers(0, 14 * 1440),
       cuts=st.lists(st.integers(1, 3 * 1440), min_size=0, max_size=6),
       running=st.booleans(), pcts=st.lists(st.integers(1, 99), max_size=3),
       target=st.integers(1, 5 * 1440))
def test_single_walk_plan_agrees_with_calendar_arithmetic(cal_name, start, cuts, running, pcts, target):
    """sla._plan (one walk) == business_us per segment + add_us per threshold."""
    from tiergate.plugin.core.calendar import ALWAYS_OPEN, MINUTE_US, to_us
    from tiergate.plugin.core.sla import _plan

    cal = CALENDARS[cal_name] if cal_name else ALWAYS_OPEN
    t = to_us(T0) + start * MINUTE_US
    points = [t]
    for c in cuts:
        points.append(points[-1] + c * MINUTE_US)
    segments = [(points[i], points[i + 1]) for i in range(0, len(points) - 1, 2)]
    now = points[-1] if len(points) % 2 == 0 else points[-1] + MINUTE_US
    thresholds = [target * MINUTE_US * p // 100 + 1 for p in pcts] + [target * MINUTE_US]
    plan = _plan(cal, segments, running, now, thresholds)
    elapsed = sum(cal.business_us(s, e) for s, e in segments)
    assert plan.elapsed_us == elapsed
    for th in thresholds:
        acc, expected = 0, None
        for s, e in segments:
            part = cal.business_us(s, e)
            if acc + part >= th:
                expected = cal.add_us(s, th - acc)
                break
            acc += part
        if expected is None and running:
            expected = cal.add_us(now, th - elapsed)
        assert plan.reached[th] == expected
