"""Every condition field and operator, table-driven, through the compiled closures."""
from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import pytest

from tiergate.plugin.core.condition_checks import validate_condition
from tiergate.plugin.core.condition_compile import compile_condition, compile_group
from tiergate.plugin.core.condition_facts import Facts
from tiergate.plugin.core.condition_fields import ALL_OPERATORS, OPERATORS, field_spec
from tiergate.plugin.core.manifest import load_manifest
from tiergate.plugin.core.model import Change, ClockState

from test_manifest_base import NOW, base_doc, comment, enrichment, org, ticket


@lru_cache(maxsize=1)
def manifest():
    return load_manifest(base_doc())


def clock(metric, pct, breached=False, paused=False):
    return ClockState(metric=metric, policy="p", target_minutes=100, elapsed_minutes=pct,
                      pct_elapsed=pct, breached=breached, paused=paused, business_hours=False)


T = ticket
E = enrichment
HIST = (Change(NOW - timedelta(hours=30), "status", "solved", "open"),
        Change(NOW - timedelta(hours=20), "status", "solved", "open"),
        Change(NOW - timedelta(hours=10), "group_id", 101, 102),
        Change(NOW - timedelta(hours=1), "priority", "normal", "urgent"))
CHATTY = (comment(1, "end-user", 600), comment(2, "agent", 500), comment(3, "end-user", 120),
          comment(4, "end-user", 30), comment(5, "agent", 20, public=False))

# (field, operator, value, params, ticket, enrichment, clocks, expected)
CASES = [
    ("status", "is", "open", {}, T(), None, (), True),
    ("status", "is_not", "open", {}, T(), None, (), False),
    ("status", "in", ["new", "open"], {}, T(), None, (), True),
    ("status", "not_in", ["new", "open"], {}, T(status="pending"), None, (), True),
    ("priority", "greater_than", "normal", {}, T(priority="high"), None, (), True),
    ("priority", "less_than", "normal", {}, T(priority="high"), None, (), False),
    ("priority", "greater_than_or_equal", "high", {}, T(priority="high"), None, (), True),
    ("priority", "less_than_or_equal", "low", {}, T(priority=None), None, (), False),
    ("priority", "present", None, {}, T(priority=None), None, (), False),
    ("priority", "not_present", None, {}, T(priority=None), None, (), True),
    ("priority", "changed", True, {}, T(changes=HIST), None, (), True),
    ("priority", "changed", 0.5, {}, T(changes=HIST), None, (), False),
    ("priority", "not_changed", 2, {}, T(changes=HIST), None, (), False),
    ("type", "is", "incident", {}, T(type="incident"), None, (), True),
    ("channel", "is_not", "email", {}, T(channel="voice"), None, (), True),
    ("group_id", "is", 101, {}, T(), None, (), True),
    ("group_id", "changed", 24, {}, T(changes=HIST), None, (), True),
    ("assignee_id", "not_present", None, {}, T(assignee_id=None), None, (), True),
    ("assignee_id", "in", [201, 202], {}, T(), None, (), True),
    ("requester_id", "is", 500, {}, T(), None, (), True),
    ("organization_id", "present", None, {}, T(), None, (), False),
    ("tags", "includes", ["a", "b"], {}, T(tags=("b",)), None, (), True),
    ("tags", "includes", "a", {}, T(tags=("b",)), None, (), False),
    ("tags", "includes_all", ["a", "b"], {}, T(tags=("b",)), None, (), False),
    ("tags", "not_includes", ["a"], {}, T(tags=("b",)), None, (), True),
    ("tags", "is_empty", None, {}, T(), None, (), True),
    ("tags", "is_not_empty", None, {}, T(tags=("x",)), None, (), True),
    ("subject", "contains", "HELP", {}, T(), None, (), True),
    ("subject", "not_contains", "refund", {}, T(), None, (), True),
    ("satisfaction", "is", "bad", {}, T(satisfaction="bad"), None, (), True),
    ("tier", "is", "tier_1", {}, T(), None, (), True),
    ("tier", "less_than", "tier_2", {}, T(), None, (), True),
    ("tier", "greater_than", "tier_1", {}, T(group_id=103), None, (), True),
    ("tier", "is", "tier_1", {}, T(group_id=None), None, (), True),        # default tier
    ("tier", "changed", True, {}, T(changes=HIST), None, (), True),
    ("team", "is", "finance", {}, T(group_id=110), None, (), True),
    ("team", "not_present", None, {}, T(), None, (), True),
    ("custom.plan", "is", "gold", {}, T(custom_fields={"plan": "gold"}), None, (), True),
    ("custom.seats", "greater_than", 10, {}, T(custom_fields={"seats": "12"}), None, (), True),
    ("custom.seats", "is", 12, {}, T(custom_fields={"seats": "12"}), None, (), True),
    ("custom.flag", "present", None, {}, T(), None, (), False),
    ("custom.region", "contains", "eu", {}, T(custom_fields={"region": "EU-west"}), None, (),
     True),
    # times (ticket created 2 h before NOW, Wednesday 14:00 Berlin)
    ("age", "greater_than", 1, {}, T(), None, (), True),
    ("age", "greater_than", 3, {}, T(), None, (), False),
    ("age", "less_than", 150, {"unit": "minutes"}, T(), None, (), True),
    ("age", "greater_than_or_equal", 2, {"unit": "business_hours"}, T(), None, (), True),
    ("age", "less_than_or_equal", 0.1, {"unit": "days"}, T(), None, (), True),
    ("age", "greater_than", 1, {"unit": "business_hours", "calendar": "always"},
     T(created_at=NOW - timedelta(hours=2)), None, (), True),
    # created Saturday noon -> by Monday 09:00 Berlin only 1 business hour (opens 08:00)
    ("age", "less_than", 2, {"unit": "business_hours", "calendar": "support"},
     T(created_at=NOW - timedelta(days=4, hours=1)), None, (), False),
    ("since_customer_update", "less_than", 1, {}, T(comments=CHATTY), None, (), True),
    ("since_agent_update", "greater_than", 15, {"unit": "minutes"}, T(comments=CHATTY), None,
     (), True),
    ("since_public_update", "greater_than", 25, {"unit": "minutes"}, T(comments=CHATTY), None,
     (), True),
    ("since_update", "less_than", 3, {}, T(), None, (), True),
    ("time_in_tier", "less_than", 11, {}, T(changes=HIST), None, (), True),
    ("time_in_tier", "greater_than", 1, {}, T(), None, (), True),
    ("time_in_status", "greater_than", 19, {}, T(changes=HIST), None, (), True),
    # history
    ("reopen_count", "is", 2, {}, T(changes=HIST), None, (), True),
    ("handoffs", "greater_than_or_equal", 1, {}, T(changes=HIST), None, (), True),
    ("customer_contacts", "greater_than_or_equal", 3, {"window_hours": 24}, T(comments=CHATTY),
     None, (), True),
    ("customer_contacts", "greater_than_or_equal", 2, {"window_hours": 1}, T(comments=CHATTY),
     None, (), False),
    ("customer_contacts", "is", 1, {}, T(comments=()), None, (), True),
    ("comment_count", "greater_than", 4, {}, T(comments=CHATTY), None, (), True),
    # enrichment
    ("risk_tags", "includes", ["legal"], {}, T(), E(tags=("legal",)), (), True),
    ("risk_tags", "not_includes", ["legal"], {}, T(), E(tags=("outage",)), (), True),
    ("sentiment", "less_than", -0.3, {}, T(), E(sentiment=-0.5), (), True),
    ("sentiment_label", "is", "negative", {}, T(), E(sentiment_label="negative"), (), True),
    ("sentiment_shift", "less_than", -0.3, {}, T(), E(sentiment_shift=-0.6), (), True),
    ("attention_score", "greater_than_or_equal", 60, {}, T(), E(attention_score=60), (), True),
    ("attention_score", "is_not", 60, {}, T(), E(attention_score=61), (), True),
    ("model_score", "greater_than", 0.5, {}, T(), E(model_score=None), (), False),
    ("model_score", "greater_than", 0.5, {}, T(), E(model_score=0.9), (), True),
    ("model_score", "not_present", None, {}, T(), E(), (), True),
    ("complaint", "is", True, {}, T(), E(complaint=True), (), True),
    ("complaint", "is_not", True, {}, T(), E(complaint=True), (), False),
    # customer
    ("organization.segment", "is", "enterprise", {}, T(organization=org()), None, (), True),
    ("organization.segment", "is", "enterprise", {}, T(), None, (), False),
    ("organization.vip", "is", True, {}, T(organization=org(segment="vip")), None, (), True),
    ("organization.vip", "is", True, {}, T(organization=org(tags=("vip",))), None, (), True),
    ("organization.vip", "is", False, {}, T(organization=org()), None, (), True),
    ("organization.account_value", "greater_than", 10000, {}, T(organization=org()), None, (),
     True),
    ("organization.renewal", "within", 30, {}, T(organization=org()), None, (), True),
    ("organization.renewal", "within", 10, {}, T(organization=org()), None, (), False),
    ("organization.renewal", "not_within", 10, {}, T(organization=org()), None, (), True),
    ("organization.renewal", "after", 10, {}, T(organization=org()), None, (), True),
    ("organization.renewal", "before", 10, {},
     T(organization=org(renewal_at=NOW - timedelta(days=40))), None, (), True),
    ("organization.renewal", "present", None, {}, T(), None, (), False),
    ("organization.renewal_in_days", "less_than", 21, {}, T(organization=org()), None, (), True),
    ("organization.tags", "includes", "strategic", {}, T(organization=org()), None, (), True),
    ("organization.name", "is", "Contoso", {}, T(organization=org()), None, (), True),
    ("users_affected", "greater_than", 100, {}, T(custom_fields={"users_affected": 300}), None,
     (), True),
    ("users_affected", "greater_than", 100, {}, T(custom_fields={"users_affected": "n/a"}), None,
     (), False),
    ("users_affected", "present", None, {},
     T(organization=org(fields={"users_affected": 5})), None, (), True),
    # SLA
    ("sla.first_reply_time.pct_elapsed", "greater_than_or_equal", 75, {}, T(), None,
     (clock("first_reply_time", 80),), True),
    ("sla.first_reply_time.pct_elapsed", "greater_than_or_equal", 75, {}, T(), None, (), False),
    ("sla.first_reply_time.breached", "is", True, {}, T(), None,
     (clock("first_reply_time", 120, True),), True),
    ("sla.next_reply_time.breached", "is", False, {}, T(), None, (), True),
    ("sla.next_reply_time.remaining_minutes", "less_than", 30, {}, T(), None,
     (clock("next_reply_time", 80),), True),
    ("sla.next_reply_time.paused", "is", True, {}, T(), None,
     (clock("next_reply_time", 80, paused=True),), True),
    ("sla.max_pct_elapsed", "greater_than", 50, {}, T(), None,
     (clock("first_reply_time", 20), clock("next_reply_time", 60)), True),
    ("sla.max_pct_elapsed", "present", None, {}, T(), None, (), False),
    ("sla.any_breached", "is", True, {}, T(), None, (clock("next_reply_time", 101, True),), True),
    ("sla.any_breached", "is", False, {}, T(), None, (), True),
    # clock (NOW = Wednesday 14:00 Berlin)
    ("clock.business_hours", "is", True, {}, T(), None, (), True),
    ("clock.business_hours", "is", True, {"calendar": "support"}, T(), None, (), True),
    ("clock.business_hours", "is_not", True, {"calendar": "always"}, T(), None, (), False),
    # amounts vs authority (tier_1: refund 100)
    ("amount.refund", "within_authority", None, {}, T(), E(amounts={"refund": 40.0}), (), True),
    ("amount.refund", "above_authority", None, {}, T(), E(amounts={"refund": 40.0}), (), False),
    ("amount.refund", "above_authority", None, {}, T(), E(amounts={"refund": 400.0}), (), True),
    ("amount.refund", "within_authority", None, {"tier": "tier_2"}, T(),
     E(amounts={"refund": 400.0}), (), True),
    ("amount.refund", "above_authority", None, {}, T(group_id=110),
     E(amounts={"refund": 1.0}), (), True),                           # a team has no authority
    ("amount.discount", "above_authority", None, {}, T(), E(), (), False),
    ("amount.credit", "greater_than", 10, {}, T(), E(amounts={"credit": 20.0}), (), True),
    ("amount.refund", "present", None, {}, T(), E(amounts={"refund": 1.0}), (), True),
    ("amount.refund", "less_than", 50, {}, T(), E(amounts={"refund": 40.0}), (), True),
    ("amount.refund", "less_than", 50, {}, T(), E(), (), False),
]


@pytest.mark.parametrize("field,op,value,params,t,e,clocks,expected", CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_condition(field, op, value, params, t, e, clocks, expected):
    cond = {"field": field, "operator": op, **params}
    if value is not None:
        cond["value"] = value
    assert validate_condition(cond) == {}, validate_condition(cond)
    compiled = compile_condition(cond, "triggers[0].conditions.all[0]", manifest())
    facts = Facts(t, e or enrichment(), manifest(), NOW, clocks)
    assert compiled.test(facts) is expected
    result = compiled.result(facts)
    assert result.held is expected and result.field == field and result.operator == op
    assert result.path == "triggers[0].conditions.all[0]"


def test_every_type_and_operator_is_covered():

    assert {c[1] for c in CASES} == set(ALL_OPERATORS)
    assert {field_spec(c[0]).type for c in CASES} == set(OPERATORS)
    for typ in ("set", "duration", "date", "amount", "ordered", "bool"):
        ops = {c[1] for c in CASES if field_spec(c[0]).type == typ}
        missing = set(OPERATORS[typ]) - ops - {"present", "not_present", "is", "is_not",
                                               "greater_than_or_equal", "less_than_or_equal",
                                               "in", "not_in"}
        assert not missing, (typ, missing)


def test_duration_flip_instants():
    m = manifest()
    t = T()
    c = compile_condition({"field": "age", "operator": "greater_than", "value": 3}, "p", m)
    f = Facts(t, enrichment(), m, NOW, ())
    assert c.flip_at(f) == t.created_at + timedelta(hours=3, seconds=1)
    b = compile_condition({"field": "age", "operator": "greater_than_or_equal", "value": 5,
                           "unit": "business_hours"}, "p", m)
    # created 12:00 Berlin Wed; 5 business hours -> 17:00 Berlin = 16:00 UTC
    assert b.flip_at(f) == NOW + timedelta(hours=3)
    assert compile_condition({"field": "age", "operator": "greater_than", "value": 1}, "p",
                             m).flip_at(f) is None
    r = compile_condition({"field": "organization.renewal", "operator": "within", "value": 10},
                          "p", m)
    fo = Facts(T(organization=org()), enrichment(), m, NOW, ())
    assert r.flip_at(fo) == NOW + timedelta(days=10)
    bh = compile_condition({"field": "clock.business_hours", "operator": "is", "value": True},
                           "p", m)
    assert bh.flip_at(f) == NOW + timedelta(hours=4)          # closes 18:00 Berlin


@pytest.mark.parametrize("cond,key", [
    ({"field": "nope", "operator": "is", "value": 1}, "field"),
    ({"field": "priority", "operator": "includes", "value": "x"}, "operator"),
    ({"field": "priority", "operator": "is", "value": "p0"}, "value"),
    ({"field": "tags", "operator": "includes", "value": []}, "value"),
    ({"field": "status", "operator": "in", "value": "open"}, "value"),
    ({"field": "age", "operator": "greater_than", "value": -1}, "value"),
    ({"field": "age", "operator": "greater_than", "value": 1, "window_hours": 2}, "window_hours"),
    ({"field": "customer_contacts", "operator": "is", "value": 1, "window_hours": 0},
     "window_hours"),
    ({"field": "complaint", "operator": "is", "value": "yes"}, "value"),
    ({"field": "group_id", "operator": "is", "value": "101"}, "value"),
    ({"field": "priority", "operator": "changed", "value": "often"}, "value"),
    ({"field": "amount.refund", "operator": "above_authority", "value": 3}, "value"),
    ({"field": "tags", "operator": "is_empty", "value": 3}, "value"),
    ({"field": "amount.bribe", "operator": "present"}, "field"),
    ({"field": "sla.first_reply_time.colour", "operator": "is", "value": 1}, "field"),
])
def test_condition_validation_errors(cond, key):
    errors = validate_condition(cond)
    assert key in errors, errors


def test_explanations_carry_values():
    m = manifest()
    g = compile_group({"all": [{"field": "priority", "operator": "is", "value": "urgent"},
                               {"field": "age", "operator": "greater_than", "value": 1}],
                       "any": [{"field": "risk_tags", "operator": "includes", "value": "legal"}]},
                      "triggers[3].conditions", m)
    f = Facts(T(priority="urgent"), enrichment(tags=("legal",)), m, NOW, ())
    assert g.test(f)
    res = g.explain(f)
    assert [r.path for r in res] == ["triggers[3].conditions.all[0]",
                                     "triggers[3].conditions.all[1]",
                                     "triggers[3].conditions.any[0]"]
    assert res[0].actual == "urgent" and res[1].actual == 2.0 and res[2].actual == ["legal"]
    assert res[1].expected == {"value": 1, "unit": "hours"}


@pytest.mark.parametrize("op", ["greater_than", "greater_than_or_equal"])
@pytest.mark.parametrize("unit", ["hours", "business_hours"])
def test_timer_instant_makes_the_condition_hold(op, unit):
    """A timer's instant is the first moment the condition holds (business time included)."""
    m = manifest()
    t = T(created_at=NOW - timedelta(hours=30))          # Tuesday 08:00 Berlin
    c = compile_condition({"field": "age", "operator": op, "value": 14, "unit": unit}, "p", m)
    f = Facts(t, enrichment(), m, NOW - timedelta(hours=29), ())
    at = c.flip_at(f)
    assert at is not None
    assert not c.test(Facts(t, enrichment(), m, at - timedelta(seconds=2), ()))
    assert c.test(Facts(t, enrichment(), m, at, ()))
    if unit == "business_hours":                          # 10 h on Tuesday, 4 h on Wednesday
        assert at.replace(second=0) == NOW - timedelta(hours=2)
