"""How held conditions read in a decision's reasons: numbers as a person writes them."""
from __future__ import annotations

import pytest

from tiergate.plugin.core.condition_reasons import duration, explain_line, number, trigger_reason
from tiergate.plugin.core.model import ConditionResult, FiredTrigger


def held(field, operator, expected, actual):
    return ConditionResult("triggers[0].conditions.all[0]", field, operator, expected, actual, True)


def test_duration_amount_and_score_read_as_a_person_writes_them():
    assert explain_line(held("time_in_tier", "greater_than", {"value": 24, "unit": "hours"},
                             24.0)) == "in tier 24 h, limit 24 h"
    assert explain_line(held("since_customer_update", "greater_than",
                             {"value": 90, "unit": "business_minutes"}, 95.5)) \
        == "since customer update 96 business min, limit 90 business min"
    assert explain_line(held("amount.refund", "greater_than", 500, 1200.0)) \
        == "refund 1,200, limit 500"
    assert explain_line(held("amount.refund", "above_authority", {"tier": "current"}, 250.0)) \
        == "refund 250 above the current tier's limit"
    assert explain_line(held("attention_score", "greater_than_or_equal", 70, 82.0)) \
        == "attention score 82, limit 70"
    assert explain_line(held("model_score", "greater_than", 0.8, 0.91)) \
        == "model score 0.91, limit 0.8"
    assert explain_line(held("customer_contacts", "greater_than_or_equal",
                             {"value": 3, "window_hours": 24}, 4)) \
        == "customer contacts 4 in 24 h, limit 3"
    assert explain_line(held("sla.first_reply_time.pct_elapsed", "greater_than", 75, 82.5)) \
        == "first reply time elapsed 82.5%, limit 75%"


def test_other_operators_keep_their_words_with_plain_numbers():
    assert explain_line(held("priority", "is", "urgent", "urgent")) \
        == "priority is urgent (seen: urgent)"
    assert explain_line(held("reopen_count", "is", 2, 2.0)) == "reopen_count is 2 (seen: 2)"
    fired = FiredTrigger("stale", (held("age", "less_than", {"value": 2, "unit": "days"}, 1.25),))
    assert trigger_reason(fired, "young tickets") == "stale (young tickets): age 1.2 d, under 2 d"


@pytest.mark.parametrize("value, text", [(24.0, "24"), (1200, "1,200"), (0.912, "0.91"),
                                         (12.34, "12.3"), (-0.5, "-0.5"), (1234.6, "1,235")])
def test_numbers(value, text):
    assert number(value) == text


def test_durations():
    assert duration(1.5, "hours") == "1.5 h" and duration(45.0, "minutes") == "45 min"
