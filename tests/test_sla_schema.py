"""The ``calendars`` and ``sla`` manifest keys: shapes accepted, every error with its JSON path."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from tiergate.plugin.core.calendar import Calendar
from tiergate.plugin.core.sla_config import Commitments, SlaConfig
from tiergate.plugin.core.sla_schema import SlaSchema, error_pairs, load_sections

GOOD = {
    "calendars": {
        "support_eu": {
            "time_zone": "Europe/Berlin",
            "intervals": [{"day": "mon-fri", "start": "09:00", "end": "17:00"},
                          {"start_time": 6 * 1440 + 600, "end_time": 6 * 1440 + 720}],   # Sat 10-12
            "holidays": {"country": "DE", "subdivision": "BE", "dates": ["2024-12-24"]},
        },
        "always": {"time_zone": "UTC", "always_open": True},
    },
    "sla": {
        "warn_at": [75, 50],
        "default_calendar": "support_eu",
        "policies": [
            {"name": "urgent", "match": {"priorities": ["urgent"]},
             "metrics": [{"metric": "first_reply_time", "target_minutes": 30},
                         {"metric": "resolution_time", "target_minutes": 480, "business_hours": True,
                          "pause_on": ["pending"], "warn_at": [90]}],
             "tighten": [{"name": "vip", "when": {"vip": True}, "factor": 0.5},
                         {"when": {"renewal_within_days": 30, "segment": "enterprise"},
                          "target_minutes": 20, "metrics": ["first_reply_time"]}]},
            {"name": "default", "metrics": [{"metric": "periodic_update_time", "target_minutes": 240}]},
        ],
        "commitments": {"acknowledgement": 30, "response_window": 120},
    },
}


def test_good_sections_build_frozen_objects():
    calendars, sla, errors = load_sections(GOOD)
    assert errors == []
    assert isinstance(calendars["support_eu"], Calendar)
    assert calendars["support_eu"].name == "support_eu"
    assert calendars["support_eu"].is_holiday(date(2024, 12, 24))
    assert calendars["always"].always_open
    assert isinstance(sla, SlaConfig) and sla.warn_at == (50, 75)
    urgent = sla.policies[0]
    assert urgent.match.priorities == ("urgent",) and urgent.match.segments == ()
    assert urgent.metrics[1].business_hours and urgent.metrics[1].pauses() == ("pending",)
    assert urgent.metrics[0].pauses() == ("pending", "hold")
    assert urgent.tighten[1].when.segments == ("enterprise",)
    assert sla.policies[1].match.priorities == ()
    assert sla.commitments == Commitments(30.0, 120.0)
    with pytest.raises(Exception):
        sla.warn_at = (1,)  # frozen


def test_empty_sections_are_valid_defaults():
    calendars, sla, errors = load_sections({})
    assert errors == [] and calendars == {} and sla == SlaConfig()
    assert SlaSchema().load({}).commitments.acknowledgement == 30


BAD = [
    ({"calendars": {"x": {"time_zone": "Mars/Base", "intervals": [{"day": "mon", "start": "9:00", "end": "10:00"}]}}},
     "calendars.x.time_zone", "unknown time zone"),
    ({"calendars": {"x": {"time_zone": "UTC"}}}, "calendars.x.intervals", "needs intervals"),
    ({"calendars": {"x": {"time_zone": "UTC", "intervals": [{"day": "funday", "start": "09:00", "end": "10:00"}]}}},
     "calendars.x.intervals[0].day", "not a day"),
    ({"calendars": {"x": {"time_zone": "UTC", "intervals": [{"day": "mon", "start": "25:00", "end": "10:00"}]}}},
     "calendars.x.intervals[0].start", "time of day"),
    ({"calendars": {"x": {"time_zone": "UTC", "intervals": [{"day": "mon", "start": "09:00"}]}}},
     "calendars.x.intervals[0].end", "missing"),
    ({"calendars": {"x": {"time_zone": "UTC", "intervals": [{"start_time": 100, "end_time": 50}]}}},
     "calendars.x.intervals[0].end_time", "after start_time"),
    ({"calendars": {"x": {"time_zone": "UTC", "intervals": [{"start_time": 1, "end_time": 20000}]}}},
     "calendars.x.intervals[0].end_time", "less than or equal to 10080"),
    ({"calendars": {"x": {"time_zone": "UTC", "always_open": True, "holidays": {"country": "ZZ"}}}},
     "calendars.x.holidays.country", "unknown country"),
    ({"calendars": {"x": {"time_zone": "UTC", "always_open": True, "holidays": {"country": "DE", "subdivision": "XX"}}}},
     "calendars.x.holidays.subdivision", "allowed: BB, BE"),
    ({"calendars": {"x": {"time_zone": "UTC", "always_open": True, "holidays": {"dates": ["2024-13-01"]}}}},
     "calendars.x.holidays.dates[0]", "date"),
    ({"calendars": {"x": {"time_zone": "UTC", "always_open": True, "colour": "red"}}},
     "calendars.x.colour", "Unknown field"),
    ({"calendars": []}, "calendars", "must be an object"),
    ({"sla": {"warn_at": [150]}}, "sla.warn_at[0]", "less than or equal to 99"),
    ({"sla": {"policies": [{"name": "p", "metrics": []}]}}, "sla.policies[0].metrics", "Shorter"),
    ({"sla": {"policies": [{"name": "p", "metrics": [{"metric": "happiness", "target_minutes": 5}]}]}},
     "sla.policies[0].metrics[0].metric", "first_reply_time"),
    ({"sla": {"policies": [{"name": "p", "metrics": [{"metric": "first_reply_time", "target_minutes": 0}]}]}},
     "sla.policies[0].metrics[0].target_minutes", "positive"),
    ({"sla": {"policies": [{"name": "p", "metrics": [{"metric": "first_reply_time", "target_minutes": "soon"}]}]}},
     "sla.policies[0].metrics[0].target_minutes", "number"),
    ({"sla": {"policies": [{"name": "p", "metrics": [{"metric": "first_reply_time", "target_minutes": 5},
                                                     {"metric": "first_reply_time", "target_minutes": 6}]}]}},
     "sla.policies[0].metrics[1].metric", "twice"),
    ({"sla": {"policies": [{"name": "p", "match": {"priorities": ["p1"]},
                            "metrics": [{"metric": "first_reply_time", "target_minutes": 5}]}]}},
     "sla.policies[0].match.priorities[0]", "low, normal, high, urgent"),
    ({"sla": {"policies": [{"name": "p", "metrics": [{"metric": "first_reply_time", "target_minutes": 5,
                                                      "pause_on": ["solved"]}]}]}},
     "sla.policies[0].metrics[0].pause_on[0]", "pending"),
    ({"sla": {"policies": [{"name": "p", "metrics": [{"metric": "first_reply_time", "target_minutes": 5}],
                            "tighten": [{"when": {"vip": True}}]}]}},
     "sla.policies[0].tighten[0].factor", "exactly one"),
    ({"sla": {"policies": [{"name": "p", "metrics": [{"metric": "first_reply_time", "target_minutes": 5}],
                            "tighten": [{"when": {}, "factor": 0.5}]}]}},
     "sla.policies[0].tighten[0].when", "at least one"),
    ({"sla": {"policies": [{"name": "p", "metrics": [{"metric": "first_reply_time", "target_minutes": 5}],
                            "tighten": [{"when": {"vip": True}, "factor": 0.5, "metrics": ["resolution_time"]}]}]}},
     "sla.policies[0].tighten[0].metrics[0]", "not a metric of this policy"),
    ({"sla": {"policies": [{"name": "p", "metrics": [{"metric": "first_reply_time", "target_minutes": 5}]},
                           {"name": "p", "metrics": [{"metric": "first_reply_time", "target_minutes": 5}]}]}},
     "sla.policies[1].name", "used twice"),
    ({"sla": {"policies": [{"name": "p", "metrics": [{"metric": "first_reply_time", "target_minutes": 5,
                                                      "business_hours": True}]}]}},
     "sla.policies[0].metrics[0].business_hours", "need a calendar"),
    ({"sla": {"policies": [{"name": "p", "metrics": [{"metric": "first_reply_time", "target_minutes": 5,
                                                      "business_hours": True, "calendar": "nope"}]}]}},
     "sla.policies[0].metrics[0].calendar", "unknown calendar 'nope'"),
    ({"sla": {"default_calendar": "nope"}}, "sla.default_calendar", "unknown calendar"),
    ({"sla": {"commitments": {"acknowledgement": -5}}}, "sla.commitments.acknowledgement", "positive"),
    ({"sla": {"commitments": {"business_hours": True}}}, "sla.commitments.business_hours", "calendar"),
    ({"sla": {"speed": 1}}, "sla.speed", "Unknown field"),
]


@pytest.mark.parametrize("doc,path,needle", BAD, ids=[b[1] for b in BAD])
def test_errors_name_their_path(doc, path, needle):
    _, _, errors = load_sections(doc)
    found = [m for p, m in errors if p == path]
    assert found, errors
    assert any(needle in m for m in found), found


def test_all_errors_are_reported_together():
    doc = {"calendars": {"a": {"time_zone": "Nowhere", "intervals": [{"day": "x", "start": "1", "end": "2"}]}},
           "sla": {"warn_at": [0], "policies": [{"name": "", "metrics": []}]}}
    _, _, errors = load_sections(doc)
    paths = {p for p, _ in errors}
    assert {"calendars.a.time_zone", "calendars.a.intervals[0].day", "sla.warn_at[0]",
            "sla.policies[0].name", "sla.policies[0].metrics"} <= paths


def test_error_pairs_flattens_marshmallow_messages():
    messages = {"policies": {0: {"metrics": {1: {"target_minutes": ["bad"]}}, "_schema": ["x"]}}}
    assert error_pairs(messages, "sla") == [("sla.policies[0].metrics[1].target_minutes", "bad"),
                                            ("sla.policies[0]", "x")]


def test_zendesk_and_weekly_intervals_agree():
    calendars, _, errors = load_sections({"calendars": {
        "a": {"time_zone": "America/New_York", "intervals": [{"start_time": 1980, "end_time": 2460}]},
        "b": {"time_zone": "America/New_York", "intervals": [{"day": "mon", "start": "09:00", "end": "17:00"}]}}})
    assert errors == []
    x, y = datetime(2024, 3, 4, tzinfo=timezone.utc), datetime(2024, 3, 12, tzinfo=timezone.utc)
    assert calendars["a"].business_minutes(x, y) == calendars["b"].business_minutes(x, y) == 16 * 60
