"""The small hand-computed history the analytics tests share, the SQLite/PostgreSQL ``db_url``
fixture, and the decision log's own tests (idempotency, outcomes, schema version).

The history (all of it in May 2024 except ticket 7, UTC, times as offsets from creation):

| # | type | prio | risk tags | escalation (trigger, from->to, agent/group then) | outcome |
|---|---|---|---|---|---|
| 1 | incident | high | legal | +30m legal_threat tier_1->tier_2 (201 / 101) | solved +150m in 102, 2 replies, CSAT bad |
| 2 | question | low | - | - (no-op decision) | solved +60m in 101, 1 reply, CSAT good |
| 3 | incident | urgent | outage, churn | +60m sla_breach tier_1->tier_3 (unassigned / 101) | sent back to 101 at +180m, solved +300m, reopened +360m, solved +420m; 3 replies; CSAT good |
| 4 | problem | high | legal | +240m legal_threat tier_1->tier_2 (201 / 101) | open in 102, private agent note +300m |
| 5 | question | normal | - | vip_watch fired, no escalation | solved +180m in 110, 2 replies, CSAT good |
| 6 | - | - | - | never decided (backfill only) | new in 100 |
| 7 (April 28) | incident | urgent | - | +10m sla_breach tier_1->tier_2 (201 / 101) | solved +70m in 102, 1 reply |
"""
from __future__ import annotations

import functools
import os
import secrets
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.analytics.log_schema import SCHEMA_VERSION, SchemaError, meta_table
from tiergate.plugin.core.model import (Change, Comment, Decision, Enrichment, Escalation,
                                        FiredTrigger, Organization, RiskTag, Ticket,
                                        TicketUpdate)

PG_URL = os.environ.get("TIERGATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TIERS = {100: "tier_0", 101: "tier_1", 102: "tier_2", 103: "tier_3", 104: "management",
         110: "finance", 111: "security"}
M = lambda minutes: timedelta(minutes=minutes)  # noqa: E731
MAY1 = datetime(2024, 5, 1, tzinfo=timezone.utc)
CREATED = {1: MAY1, 2: MAY1 + timedelta(days=1), 3: MAY1 + timedelta(days=2),
           4: MAY1 + timedelta(days=9), 5: MAY1 + timedelta(days=14), 6: MAY1 + timedelta(days=19),
           7: datetime(2024, 4, 28, tzinfo=timezone.utc)}


# -- database fixture: every test on SQLite and on PostgreSQL ----------------------------------
@functools.lru_cache(maxsize=1)
def _pg_available() -> bool:
    try:
        eng = create_engine(PG_URL)
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh empty database: a SQLite file, or a uniquely named PostgreSQL schema (dropped)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log.sqlite'}"
        return
    if not os.environ.get("TIERGATE_TEST_PG_URL"):      # PostgreSQL only when asked for
        pytest.skip("SQLite only (PostgreSQL: scripts/test.sh --pg, or set TIERGATE_TEST_PG_URL)")
    if not _pg_available():
        pytest.fail(f"PostgreSQL not reachable at {PG_URL}")
    schema = f"tg_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- building the history ----------------------------------------------------------------------
def snap(tid: int, at_min: float, *, status="open", priority=None, type=None, group=101,
         assignee=None, comments=(), changes=(), satisfaction=None, org=None) -> Ticket:
    created = CREATED[tid]
    return Ticket(
        id=tid, subject=f"ticket {tid}", description="...", status=status, priority=priority,
        type=type, group_id=group, assignee_id=assignee, requester_id=900 + tid, organization_id=None,
        tags=(), channel="email", created_at=created, updated_at=created + M(at_min),
        comments=tuple(comments), changes=tuple(changes), satisfaction=satisfaction, organization=org)


def agent(tid: int, at_min: float, cid: int, public=True, author=202) -> Comment:
    return Comment(id=cid, author_id=author, author_role="agent", body=f"reply {cid}", public=public,
                   created_at=CREATED[tid] + M(at_min))


def chg(tid: int, at_min: float, fld: str, old, new) -> Change:
    return Change(at=CREATED[tid] + M(at_min), field=fld, old=old, new=new)


def enr(*tags: str, score=50) -> Enrichment:
    return Enrichment(attention_score=score, sentiment=-0.2, sentiment_label="negative", complaint=bool(tags),
                      risk_tags=tuple(RiskTag(tag=t, phrase=t) for t in tags))


def decision(tid: int, at_min: float, fired=(), esc=None, breached=False) -> Decision:
    from tiergate.plugin.core.model import ClockState

    clocks = (ClockState(metric="first_reply_time", policy="p", target_minutes=60,
                         elapsed_minutes=at_min, pct_elapsed=at_min / 60 * 100, breached=breached,
                         paused=False, business_hours=False),)
    escalation = None
    if esc:
        frm, to, gid = esc
        escalation = Escalation(from_tier=frm, to_tier=to, kind="hierarchical", group_id=gid,
                                owner_id=None, trigger=fired[0])
    return Decision(ticket_id=tid, at=CREATED[tid] + M(at_min), manifest_version="m1",
                    update=TicketUpdate(group_id=esc[2]) if esc else TicketUpdate(),
                    fired=tuple(FiredTrigger(name=n) for n in fired), escalation=escalation,
                    clocks=clocks, reasons=tuple(f"{n} fired" for n in fired))


def build_history(log: DecisionLog, helpdesk: str = "zendesk") -> None:
    rec = lambda d, t, e, delivery: log.record(d, t, e, helpdesk=helpdesk, delivery_id=delivery)  # noqa: E731
    obs = lambda t: log.observe(t, t.updated_at, helpdesk=helpdesk)  # noqa: E731

    # 1: escalated by legal_threat at +30m, solved in tier 2 at +150m, CSAT bad.
    t1_before = snap(1, 30, priority="high", type="incident", group=101, assignee=201,
                     changes=[chg(1, 10, "status", "new", "open")])
    rec(decision(1, 30, ["legal_threat"], ("tier_1", "tier_2", 102)), t1_before, enr("legal"), "d1")
    rec(decision(1, 30, ["legal_threat"], ("tier_1", "tier_2", 102)), t1_before, enr("legal"), "d1")  # retry
    t1_mid = snap(1, 120, priority="high", type="incident", group=102, assignee=202,
                  comments=[agent(1, 60, 11)],
                  changes=[chg(1, 10, "status", "new", "open"), chg(1, 30, "group_id", 101, 102)])
    rec(decision(1, 120), t1_mid, enr("legal"), "d1b")
    obs(snap(1, 150, status="solved", priority="high", type="incident", group=102, assignee=202,
             comments=[agent(1, 60, 11), agent(1, 120, 12)], satisfaction="bad",
             changes=[chg(1, 10, "status", "new", "open"), chg(1, 30, "group_id", 101, 102),
                      chg(1, 150, "status", "open", "solved")]))

    # 2: no-op decision, solved first contact, CSAT good.
    rec(decision(2, 5), snap(2, 5, status="new", priority="low", type="question", assignee=201),
        enr(score=5), "d2")
    obs(snap(2, 60, status="solved", priority="low", type="question", assignee=201,
             comments=[agent(2, 50, 21, author=201)], satisfaction="good",
             changes=[chg(2, 60, "status", "new", "solved")]))

    # 3: escalated to tier 3 by sla_breach, sent back, solved, reopened, solved again.
    rec(decision(3, 60, ["sla_breach"], ("tier_1", "tier_3", 103), breached=True),
        snap(3, 60, priority="urgent", type="incident", group=101, assignee=None,
             changes=[chg(3, 10, "status", "new", "open")]), enr("outage", "churn", score=90), "d3")
    obs(snap(3, 400, status="open", priority="urgent", type="incident", group=101, assignee=201,
             comments=[agent(3, 100, 31, author=203), agent(3, 250, 32, author=201)],
             changes=[chg(3, 10, "status", "new", "open"), chg(3, 60, "group_id", 101, 103),
                      chg(3, 180, "group_id", 103, 101), chg(3, 300, "status", "open", "solved"),
                      chg(3, 360, "status", "solved", "open")]))
    obs(snap(3, 420, status="solved", priority="urgent", type="incident", group=101, assignee=201,
             comments=[agent(3, 100, 31, author=203), agent(3, 250, 32, author=201),
                       agent(3, 400, 33, author=201)], satisfaction="good",
             changes=[chg(3, 10, "status", "new", "open"), chg(3, 60, "group_id", 101, 103),
                      chg(3, 180, "group_id", 103, 101), chg(3, 300, "status", "open", "solved"),
                      chg(3, 360, "status", "solved", "open"), chg(3, 420, "status", "open", "solved")]))

    # 4: escalated at +240m, still open in tier 2, a private note after the escalation.
    rec(decision(4, 240, ["legal_threat"], ("tier_1", "tier_2", 102)),
        snap(4, 240, priority="high", type="problem", group=101, assignee=201), enr("legal"), "d4")
    obs(snap(4, 300, priority="high", type="problem", group=102, assignee=202,
             comments=[agent(4, 300, 41, public=False)],
             changes=[chg(4, 240, "group_id", 101, 102)]))

    # 5: vip_watch fired without escalation; solved in finance with two replies, CSAT good.
    rec(decision(5, 10, ["vip_watch"]), snap(5, 10, status="new", priority="normal", type="question",
                                             group=110, assignee=210,
                                             org=Organization(id=1, name="Northwind", segment="vip")),
        enr(score=40), "d5")
    obs(snap(5, 180, status="solved", priority="normal", type="question", group=110, assignee=210,
             comments=[agent(5, 20, 51, author=210), agent(5, 170, 52, author=210)],
             satisfaction="good", changes=[chg(5, 180, "status", "open", "solved")]))

    # 6: only ever observed (backfill), never decided.
    obs(snap(6, 0, status="new", group=100, assignee=None))

    # 7 (April): escalated at +10m, solved in tier 2 at +70m.
    rec(decision(7, 10, ["sla_breach"], ("tier_1", "tier_2", 102), breached=True),
        snap(7, 10, priority="urgent", type="incident", group=101, assignee=201), enr(), "d7")
    obs(snap(7, 70, status="solved", priority="urgent", type="incident", group=102, assignee=202,
             comments=[agent(7, 60, 71)],
             changes=[chg(7, 10, "group_id", 101, 102), chg(7, 70, "status", "open", "solved")]))


@pytest.fixture
def history(db_url):
    log = DecisionLog(db_url, tier_of_group=TIERS)
    build_history(log)
    yield log
    log.close()


# -- the decision log itself -------------------------------------------------------------------
def test_record_is_idempotent_and_counts_every_ticket(history):
    counts = history.counts()
    # decisions: t1 x2 (the retry is dropped), t2, t3, t4, t5, t7 -> 7; tickets 1..7.
    assert counts == {"tickets": 7, "decisions": 7, "reviews": 0}
    assert history.record(decision(1, 30, ["legal_threat"], ("tier_1", "tier_2", 102)),
                          snap(1, 30, group=101), enr("legal"), helpdesk="zendesk", delivery_id="d1") is False
    # the same ticket on another helpdesk is another ticket
    assert history.record(decision(1, 30, ["legal_threat"], ("tier_1", "tier_2", 102)),
                          snap(1, 30, group=101), enr("legal"), helpdesk="zammad", delivery_id="d1") is True
    assert history.counts()["tickets"] == 8


def test_decision_row_keeps_everything(history):
    row = next(d for d in history.decisions() if d.ticket_id == 3)
    assert row.at == CREATED[3] + M(60)
    assert (row.trigger, row.triggers, row.escalated) == ("sla_breach", ("sla_breach",), True)
    assert (row.from_tier, row.to_tier, row.kind, row.to_group_id) == ("tier_1", "tier_3", "hierarchical", 103)
    assert (row.attention_score, row.sla_breached, row.sla_max_pct) == (90, True, 100.0)
    assert (row.priority, row.group_id, row.assignee_id, row.channel) == ("urgent", 101, None, "email")
    assert set(row.risk_tags) == {"outage", "churn"}
    assert row.reasons == ("sla_breach fired",) and row.manifest_version == "m1"
    assert row.sla[0]["metric"] == "first_reply_time" and row.sla[0]["breached"] is True


def test_outcomes_observed(history):
    f = {x.ticket_id: x for x in history.facts()}
    assert f[1].solved_at == CREATED[1] + M(150) and f[1].resolved_tier == "tier_2"
    assert (f[1].satisfaction, f[1].handoffs, f[1].reopens, f[1].agent_replies) == ("bad", 1, 0, 2)
    assert f[3].first_solved_at == CREATED[3] + M(300) and f[3].solved_at == CREATED[3] + M(420)
    assert (f[3].reopens, f[3].handoffs, f[3].resolved_tier) == (1, 2, "tier_1")
    assert f[4].solved_at is None and f[4].last_agent_comment_at == CREATED[4] + M(300)
    assert f[6].decisions == () and f[6].status == "new"
    assert f[5].organization == "Northwind" and f[5].segment == "vip"
    assert [d.delivery_id for d in f[1].decisions] == ["d1", "d1b"]


def test_reopen_and_handoff_seen_without_audit_changes(db_url):
    log = DecisionLog(db_url, tier_of_group=TIERS)
    log.observe(snap(2, 10, status="solved", group=101))
    log.observe(snap(2, 20, status="open", group=102))     # reopened and moved: no change list
    log.observe(snap(2, 30, status="solved", group=102))
    f = log.facts()[0]
    assert (f.reopens, f.handoffs, f.resolved_tier, f.solved_at) == (1, 1, "tier_2", CREATED[2] + M(30))
    log.observe(snap(2, 5, status="new", group=101))       # an older snapshot changes nothing
    assert log.facts()[0].status == "solved"
    log.close()


def test_tier_learned_from_escalations(db_url):
    log = DecisionLog(db_url)      # no tier map: the escalation says 102 is tier_2
    log.record(decision(7, 10, ["sla_breach"], ("tier_1", "tier_2", 102)), snap(7, 10), enr(),
               helpdesk="zendesk", delivery_id="x")
    log.close()
    fresh = DecisionLog(db_url)    # a new process learns it from the stored decisions
    fresh.observe(snap(7, 70, status="solved", group=102))
    assert fresh.facts()[0].resolved_tier == "tier_2"
    fresh.close()


def test_schema_is_versioned(db_url):
    log = DecisionLog(db_url)
    assert log.schema_version() == SCHEMA_VERSION
    with log.engine.begin() as conn:
        conn.execute(meta_table.update().values(value=str(SCHEMA_VERSION + 1)))
    log.close()
    with pytest.raises(SchemaError, match="newer"):
        DecisionLog(db_url).ensure_schema()


def test_record_needs_a_time(db_url):
    log = DecisionLog(db_url)
    with pytest.raises(ValueError, match="decision.at"):
        log.record(Decision(ticket_id=1, at=None, manifest_version="m"), snap(1, 0), enr(),
                   helpdesk="zendesk", delivery_id="x")
    log.close()


def test_observe_after_record_keeps_the_helpdesk(db_url):
    """The worker calls ``record(..., helpdesk=h)`` then ``observe(ticket, at)``."""
    log = DecisionLog(db_url, tier_of_group=TIERS)
    log.record(decision(7, 10), snap(7, 10), enr(), helpdesk="zammad", delivery_id="z1")
    log.observe(snap(7, 20, status="solved", group=102), CREATED[7] + M(20))
    assert [(f.helpdesk, f.status) for f in log.facts()] == [("zammad", "solved")]
    log.observe(snap(2, 0))                                  # never recorded: the log's default
    assert sorted(f.helpdesk for f in log.facts()) == ["zammad", "zendesk"]
    log.close()


def test_the_workers_record_then_observe_sees_its_own_escalation(db_url):
    """The worker records the decision and observes the snapshot it fetched *before* writing."""
    log = DecisionLog(db_url, tier_of_group=TIERS)
    before = snap(4, 240, group=101, assignee=201)
    esc = decision(4, 240, ["legal_threat"], ("tier_1", "tier_2", 102))
    log.record(esc, before, enr("legal"), helpdesk="zendesk", delivery_id="w1")
    log.observe(before, esc.at)
    log.record(esc, before, enr("legal"), helpdesk="zendesk", delivery_id="w1")   # a retried job
    f = log.facts()[0]
    assert (f.group_id, f.handoffs) == (102, 1)
    # the next webhook's snapshot shows the move in its audit: still one handoff
    log.observe(snap(4, 300, group=102, changes=[chg(4, 240, "group_id", 101, 102)]))
    assert (log.facts()[0].group_id, log.facts()[0].handoffs) == (102, 1)
    log.close()


def test_concurrent_writers(db_url):
    """Several workers recording and observing the same tickets at once lose nothing."""
    import threading

    log = DecisionLog(db_url, tier_of_group=TIERS)
    log.ensure_schema()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(5):
                tid = 1 + (n + i) % 3
                log.record(decision(tid, 10 + i), snap(tid, 10 + i), enr("legal"), helpdesk="zendesk",
                           delivery_id=f"w{n}-{i}")
                log.observe(snap(tid, 10 + i), CREATED[tid] + M(10 + i))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert log.counts() == {"tickets": 3, "decisions": 30, "reviews": 0}
    log.close()
