"""Every metric and every breakdown on the hand-computed history of ``test_analytics_history``,
on SQLite and PostgreSQL. Expected numbers were worked out by hand from the history table:

May 2024 population: tickets 1-6. Escalated: 1 (+30m), 3 (+60m), 4 (+240m).
Resolved now: 1 (150m), 2 (60m), 3 (420m), 5 (180m). Ever resolved: the same four; reopened: 3.
Handoffs: 1, 0, 2, 1, 0, 0. Rated: 1 bad (escalated), 3 good (escalated), 2 good, 5 good.
Reviews (May): 1 knowledge_gap, 3 misrouted, 4 knowledge_gap.
"""
from __future__ import annotations

import pytest
from test_analytics_history import CREATED, db_url, history  # noqa: F401

from tiergate.plugin.analytics.metrics import (ALL_TIME, compute, escalation_rate_series, in_period,
                                               parse_month, time_to_escalation_histogram,
                                               top_triggers)

KG, MIS = "knowledge_gap", "misrouted"
# (escalation rate, TTE median, TTE mean, post-escalation median, CSAT escalated, CSAT other,
#  MTTR, FCR, reopen rate, handoffs per ticket, RCA frequency)
OVERALL_MAY = (3 / 6, 60, 110, 240, 1 / 2, 2 / 2, 810 / 4, 1 / 4, 1 / 4, 4 / 6, {KG: 2, MIS: 1})
ONLY_T3 = (1.0, 60, 60, 360, 1.0, None, 420, 0.0, 1.0, 2.0, {MIS: 1})
T1_T4 = (1.0, 135, 135, 120, 0.0, None, 150, 0.0, 0.0, 1.0, {KG: 2})
NOT_ESCALATED_T2_T5_T6 = (0.0, None, None, None, None, 1.0, 120, 1 / 2, 0.0, 0.0, {})
ONLY_T5 = (0.0, None, None, None, None, 1.0, 180, 0.0, 0.0, 0.0, {})
ONLY_T6 = (0.0, None, None, None, None, None, None, None, None, 0.0, {})
BREAKDOWNS = {
    "type": {
        "incident": (1.0, 45, 45, 240, 0.5, None, 570 / 2, 0.0, 0.5, 1.5, {KG: 1, MIS: 1}),
        "question": (0.0, None, None, None, None, 1.0, 240 / 2, 0.5, 0.0, 0.0, {}),
        "problem": (1.0, 240, 240, None, None, None, None, None, None, 1.0, {KG: 1}),
        "(none)": ONLY_T6,
    },
    "risk_tag": {"legal": T1_T4, "outage": ONLY_T3, "churn": ONLY_T3, "(none)": NOT_ESCALATED_T2_T5_T6},
    "agent": {
        "201": (2 / 3, 135, 135, 120, 0.0, 1.0, 210 / 2, 1 / 2, 0.0, 2 / 3, {KG: 2}),
        "210": ONLY_T5,
        "(unassigned)": (0.5, 60, 60, 360, 1.0, None, 420, 0.0, 1.0, 1.0, {MIS: 1}),
    },
    "team": {
        "101": (3 / 4, 60, 110, 240, 0.5, 1.0, 630 / 3, 1 / 3, 1 / 3, 1.0, {KG: 2, MIS: 1}),
        "110": ONLY_T5,
        "100": ONLY_T6,
    },
    "priority": {
        "high": T1_T4,
        "low": (0.0, None, None, None, None, 1.0, 60, 1.0, 0.0, 0.0, {}),
        "urgent": ONLY_T3,
        "normal": ONLY_T5,
        "(none)": ONLY_T6,
    },
    "trigger": {"legal_threat": T1_T4, "sla_breach": ONLY_T3, "(not escalated)": NOT_ESCALATED_T2_T5_T6},
}


def as_tuple(block: dict) -> tuple:
    return (block["escalation_rate"]["value"], block["time_to_escalation_minutes"]["value"],
            block["time_to_escalation_minutes"]["mean"], block["post_escalation_resolution_minutes"]["value"],
            block["csat_escalated"]["value"], block["csat_other"]["value"], block["mttr_minutes"]["value"],
            block["first_contact_resolution"]["value"], block["reopen_rate"]["value"],
            block["handoffs_per_ticket"]["value"], block["rca_frequency"]["value"])


def approx(t: tuple):
    return tuple(pytest.approx(v) if isinstance(v, float | int) else v for v in t)


@pytest.fixture
def may(history):
    for tid, cause in ((1, KG), (3, MIS), (4, KG)):
        history.upsert_review("zendesk", tid, "2024-05", sample="manual", status="reviewed", root_cause=cause)
    history.upsert_review("zendesk", 7, "2024-04", sample="manual", status="queued")  # not reviewed yet
    period = parse_month("2024-05")
    return compute(in_period(history.facts(), period), history.reviews(months=period.months))


def test_overall_may(may):
    assert may["tickets"] == 6
    assert as_tuple(may["metrics"]) == approx(OVERALL_MAY)
    m = may["metrics"]
    assert (m["escalation_rate"]["escalated"], m["escalation_rate"]["n"], m["escalation_rate"]["goal"]) == (3, 6, 0.10)
    assert m["time_to_escalation_minutes"]["n"] == 3 and m["post_escalation_resolution_minutes"]["n"] == 2
    assert m["post_escalation_resolution_minutes"]["mean"] == pytest.approx(240)
    assert (m["csat_escalated"]["n"], m["csat_other"]["n"], m["mttr_minutes"]["n"]) == (2, 2, 4)
    assert (m["first_contact_resolution"]["first_contact"], m["reopen_rate"]["reopened"]) == (1, 1)
    assert (m["handoffs_per_ticket"]["handoffs"], m["rca_frequency"]["n"]) == (4, 3)
    assert list(m["rca_frequency"]["value"]) == [KG, MIS]      # most frequent first


def test_mttr_by_priority(may):
    got = {k: (v["value"], v["n"]) for k, v in may["mttr_by_priority"].items()}
    assert got == {"high": (150, 1), "low": (60, 1), "urgent": (420, 1), "normal": (180, 1), "(none)": (None, 0)}


@pytest.mark.parametrize("dimension", sorted(BREAKDOWNS))
def test_breakdown(may, dimension):
    got = {key: as_tuple(block) for key, block in may["breakdowns"][dimension].items()}
    assert set(got) == set(BREAKDOWNS[dimension])
    for key, expected in BREAKDOWNS[dimension].items():
        assert got[key] == approx(expected), (dimension, key)


def test_period_filters(history):
    facts = history.facts()
    april = compute(in_period(facts, parse_month("2024-04")))
    # ticket 7 only: escalated +10m, solved +70m with 1 reply but 1 handoff (not first contact)
    assert april["tickets"] == 1
    assert as_tuple(april["metrics"]) == approx((1.0, 10, 10, 60, None, None, 70, 0.0, 0.0, 1.0, {}))
    everything = compute(in_period(facts, ALL_TIME))
    # tickets 1-7: 4 escalated; TTE 10, 30, 60, 240; post-escalation 60, 120, 360
    m = everything["metrics"]
    assert (m["escalation_rate"]["value"], everything["tickets"]) == (pytest.approx(4 / 7), 7)
    assert (m["time_to_escalation_minutes"]["value"], m["time_to_escalation_minutes"]["mean"]) == (45, 85)
    assert m["post_escalation_resolution_minutes"]["value"] == 120
    assert compute(in_period(facts, parse_month("2024-06")))["metrics"]["escalation_rate"]["value"] is None
    assert history.facts(CREATED[2], CREATED[4]) and [f.ticket_id for f in history.facts(CREATED[2], CREATED[4])] == [2, 3]


def test_series_histogram_and_triggers(history):
    facts = in_period(history.facts(), parse_month("2024-05"))
    series = escalation_rate_series(facts)
    assert [(s["bucket"], s["tickets"], s["escalated"]) for s in series] == [
        ("2024-05-01", 1, 1), ("2024-05-02", 1, 0), ("2024-05-03", 1, 1), ("2024-05-10", 1, 1),
        ("2024-05-15", 1, 0), ("2024-05-20", 1, 0)]
    assert escalation_rate_series(facts, "month") == [
        {"bucket": "2024-05-01", "unit": "month", "tickets": 6, "escalated": 3, "rate": 0.5}]
    # TTE 30 -> 15-60m, 60 -> 1-4h, 240 -> 4-24h (upper bounds exclusive)
    assert [h["count"] for h in time_to_escalation_histogram(facts)] == [0, 1, 1, 1, 0, 0]
    assert top_triggers(facts) == [
        {"trigger": "legal_threat", "tickets": 2, "escalated": 2},
        {"trigger": "sla_breach", "tickets": 1, "escalated": 1},
        {"trigger": "vip_watch", "tickets": 1, "escalated": 0}]


@pytest.mark.parametrize("text, message", [
    ("2024-13", "months run 01-12"), ("2024-00", "months run 01-12"), ("May", "not YYYY-MM"),
    ("2024-5", "not YYYY-MM"), ("", "not YYYY-MM")])
def test_bad_month(text, message):
    with pytest.raises(ValueError, match=message):
        parse_month(text)


def test_month_period():
    p = parse_month("2024-12")
    assert (p.start.isoformat(), p.end.isoformat(), p.months) == (
        "2024-12-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00", ["2024-12"])
