"""Business-hours calendar arithmetic: weekends, holidays, DST, time zones, inverse, brute force."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiergate.plugin.core.calendar import (ALWAYS_OPEN, Calendar, parse_clock, parse_days,
                                           zendesk_interval)

UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


BERLIN = Calendar.weekly("Europe/Berlin", {"mon-fri": "09:00-17:00"}, name="eu")
NEW_YORK = Calendar.weekly("America/New_York", {"mon-fri": "09:00-17:00"}, name="us")


@pytest.mark.parametrize("text,seconds", [("09:00", 32400), ("9:30", 34200), ("24:00", 86400),
                                          ("00:00:05", 5), ("17:59:59", 64799)])
def test_parse_clock(text, seconds):
    assert parse_clock(text) == seconds


@pytest.mark.parametrize("text", ["24:01", "9", "12:60", "x", "-1:00"])
def test_parse_clock_rejects(text):
    with pytest.raises(ValueError):
        parse_clock(text)


@pytest.mark.parametrize("spec,days", [("mon-fri", (0, 1, 2, 3, 4)), ("sat,sun", (5, 6)),
                                       (["mon", "wed"], (0, 2)), ("fri-mon", (4, 5, 6, 0)),
                                       ("Tuesday", (1,)), (3, (3,))])
def test_parse_days(spec, days):
    assert parse_days(spec) == days


def test_zendesk_minutes_since_sunday():
    # Monday 09:00-17:00 = 1980-2460; Saturday 22:00 - Sunday 02:00 wraps the day
    (iv,) = zendesk_interval(1980, 2460)
    assert (iv.weekday, iv.start, iv.end) == (0, 9 * 3600, 17 * 3600)
    a, b = zendesk_interval(2760, 3000)          # Monday 22:00 - Tuesday 02:00
    assert (a.weekday, a.start, a.end) == (0, 22 * 3600, 24 * 3600)
    assert (b.weekday, b.start, b.end) == (1, 0, 2 * 3600)
    (sat,) = zendesk_interval(6 * 1440 + 22 * 60, 7 * 1440)
    assert (sat.weekday, sat.start, sat.end) == (5, 22 * 3600, 24 * 3600)


def test_weekend_is_skipped():
    fri_16 = utc(2024, 3, 8, 15, 0)      # 16:00 CET
    mon_10 = utc(2024, 3, 11, 9, 0)      # 10:00 CET
    assert BERLIN.business_minutes(fri_16, mon_10) == 120
    assert BERLIN.add_business_minutes(fri_16, 90) == utc(2024, 3, 11, 8, 30)
    assert not BERLIN.is_open(utc(2024, 3, 9, 12, 0))
    assert BERLIN.next_open(utc(2024, 3, 9, 12, 0)) == utc(2024, 3, 11, 8, 0)
    assert BERLIN.next_close(utc(2024, 3, 11, 9, 0)) == utc(2024, 3, 11, 16, 0)


def test_exact_to_the_second_and_close_instant():
    start = utc(2024, 3, 11, 15, 59, 30)  # 16:59:30 CET
    assert BERLIN.business_minutes(start, utc(2024, 3, 11, 16, 0)) == 0.5
    # consuming exactly the rest of the day ends at closing time, not next morning
    assert BERLIN.add_business_minutes(start, 0.5) == utc(2024, 3, 11, 16, 0)
    assert BERLIN.add_business_minutes(start, 1) == utc(2024, 3, 12, 8, 0, 30)
    assert BERLIN.add_business_minutes(start, 0) == start


def test_country_holidays_and_explicit_dates():
    cal = Calendar.weekly("Europe/Berlin", {"mon-fri": "09:00-17:00"}, country="DE",
                          subdivision="BE", holidays=["2024-04-03"])
    # Good Friday 29.3. and Easter Monday 1.4. are German holidays, 3.4. is explicit
    thu_16 = utc(2024, 3, 28, 15, 0)
    assert cal.is_holiday(date(2024, 3, 29)) and cal.is_holiday(date(2024, 4, 1))
    assert cal.is_holiday(date(2024, 4, 3)) and not cal.is_holiday(date(2024, 4, 2))
    assert cal.business_minutes(thu_16, utc(2024, 4, 4, 8, 0)) == 60 + 8 * 60 + 60
    assert not cal.is_open(utc(2024, 4, 1, 10, 0))
    assert cal.next_open(utc(2024, 3, 28, 17, 0)) == utc(2024, 4, 2, 7, 0)
    # Berlin-only holiday: International Women's Day (8 March) in BE, not in BY
    assert cal.is_holiday(date(2024, 3, 8))
    by = Calendar.weekly("Europe/Berlin", {"mon-fri": "09:00-17:00"}, country="DE", subdivision="BY")
    assert not by.is_holiday(date(2024, 3, 8))


def test_us_holidays():
    cal = Calendar.weekly("America/New_York", {"mon-fri": "09:00-17:00"}, country="US")
    # 4 July 2024 (Thursday)
    assert cal.business_minutes(utc(2024, 7, 3, 20, 0), utc(2024, 7, 5, 14, 0)) == 60 + 60


def test_dst_berlin_spring_and_fall():
    around_the_clock = Calendar.weekly("Europe/Berlin", {"mon-sun": "00:00-24:00"})
    # 31 March 2024 has 23 hours, 27 October 2024 has 25
    assert around_the_clock.business_minutes(utc(2024, 3, 30, 23), utc(2024, 3, 31, 22)) == 23 * 60
    assert around_the_clock.business_minutes(utc(2024, 10, 26, 22), utc(2024, 10, 27, 23)) == 25 * 60
    # office hours keep their local wall-clock times across the change
    fri_16 = utc(2024, 3, 29, 15, 0)            # 16:00 CET
    mon_10 = utc(2024, 4, 1, 8, 0)              # 10:00 CEST
    assert BERLIN.business_minutes(fri_16, mon_10) == 120
    assert BERLIN.next_open(utc(2024, 3, 30, 12)) == utc(2024, 4, 1, 7, 0)   # 09:00 CEST
    # a night shift across the skipped hour lasts an hour less
    night = Calendar.weekly("Europe/Berlin", {"sun": "01:00-05:00"})
    assert night.business_minutes(utc(2024, 3, 30), utc(2024, 4, 1)) == 3 * 60
    assert night.business_minutes(utc(2024, 10, 26), utc(2024, 10, 28)) == 5 * 60


def test_dst_new_york():
    # 10 March 2024 02:00 EST -> 03:00 EDT; 3 November 2024 02:00 EDT -> 01:00 EST
    fri_16 = utc(2024, 3, 8, 21, 0)             # 16:00 EST
    mon_10 = utc(2024, 3, 11, 14, 0)            # 10:00 EDT
    assert NEW_YORK.business_minutes(fri_16, mon_10) == 120
    assert NEW_YORK.add_business_minutes(fri_16, 61) == utc(2024, 3, 11, 13, 1)
    assert NEW_YORK.next_open(utc(2024, 11, 3, 12)) == utc(2024, 11, 4, 14, 0)   # 09:00 EST
    day = Calendar.weekly("America/New_York", {"sun": "00:00-24:00"})
    assert day.business_minutes(utc(2024, 11, 3), utc(2024, 11, 5)) == 25 * 60
    assert day.business_minutes(utc(2024, 3, 10), utc(2024, 3, 12)) == 23 * 60


def test_time_zones_differ():
    tokyo = Calendar.weekly("Asia/Tokyo", {"mon-fri": "09:00-18:00"})
    at = utc(2024, 3, 11, 1, 0)                 # 10:00 JST, 02:00 CET
    assert tokyo.is_open(at) and not BERLIN.is_open(at)
    kolkata = Calendar.weekly("Asia/Kolkata", {"mon-fri": "09:30-18:00"})
    assert kolkata.next_open(utc(2024, 3, 11, 0, 0)) == utc(2024, 3, 11, 4, 0)


def test_overnight_interval_crosses_midnight():
    night = Calendar.weekly("UTC", {"mon": "22:00-06:00"})
    assert night.business_minutes(utc(2024, 3, 11), utc(2024, 3, 13)) == 8 * 60
    assert night.is_open(utc(2024, 3, 12, 5, 59)) and not night.is_open(utc(2024, 3, 12, 6, 0))
    # adjacent spans across midnight read as one open period
    assert night.next_close(utc(2024, 3, 11, 23)) == utc(2024, 3, 12, 6)


def test_seconds_scale_calendar():
    # open 30 s of every minute: test manifests can exercise business time in seconds
    hours = {"mon-sun": [f"{h:02d}:{m:02d}:00-{h:02d}:{m:02d}:30" for h in range(24)
                         for m in range(60)]}
    fast = Calendar.weekly("UTC", hours)
    t = utc(2024, 3, 11, 10, 0, 10)
    assert fast.business_minutes(t, t + timedelta(minutes=2)) == 1.0
    assert fast.add_business_minutes(t, 1) == utc(2024, 3, 11, 10, 2, 10)


def test_negative_span_and_always_open():
    a, b = utc(2024, 3, 11, 9), utc(2024, 3, 11, 10)
    assert BERLIN.business_minutes(b, a) == -60
    assert ALWAYS_OPEN.business_minutes(a, b) == 60
    assert ALWAYS_OPEN.add_business_minutes(a, 1.5) == a + timedelta(seconds=90)
    with pytest.raises(ValueError):
        BERLIN.add_business_minutes(a, -1)


def test_never_open_calendar_raises_instead_of_looping():
    closed = Calendar(name="closed", time_zone="UTC", intervals=())
    assert closed.business_minutes(utc(2024, 1, 1), utc(2025, 1, 1)) == 0
    with pytest.raises(ValueError):
        closed.add_business_minutes(utc(2024, 1, 1), 1)


def test_long_span_is_fast():
    import time

    t0 = time.perf_counter()
    minutes = BERLIN.business_minutes(utc(2020, 1, 1), utc(2024, 12, 31))
    assert minutes > 0 and time.perf_counter() - t0 < 2.0


# -- property tests against a brute-force minute counter ------------------------------------------
CALENDARS = [
    Calendar.weekly("Europe/Berlin", {"mon-fri": ["09:00-12:00", "13:00-17:30"], "sat": "10:00-14:00"},
                    country="DE", subdivision="BE", holidays=["2024-03-05"]),
    Calendar.weekly("America/New_York", {"mon-fri": "08:00-20:00", "sun": "01:00-03:30"}, country="US"),
    Calendar.weekly("Asia/Kolkata", {"mon-sat": "09:30-18:00", "fri": "22:00-02:00"}),
    Calendar.weekly("UTC", {"mon-sun": "00:00-24:00"}),
]
# windows around the 2024 spring and autumn DST changes in Europe and the US
BASES = [utc(2024, 3, 8), utc(2024, 3, 28), utc(2024, 10, 24), utc(2024, 10, 31), utc(2024, 7, 1)]


def brute_force_minutes(cal: Calendar, a: datetime, b: datetime) -> int:
    n, t = 0, a
    while t < b:
        n += cal.is_open(t)
        t += timedelta(minutes=1)
    return n


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cal=st.sampled_from(CALENDARS), base=st.sampled_from(BASES),
       offset=st.integers(0, 6 * 1440), length=st.integers(0, 3 * 1440))
def test_business_minutes_matches_brute_force(cal, base, offset, length):
    a = base + timedelta(minutes=offset)
    b = a + timedelta(minutes=length)
    assert cal.business_minutes(a, b) == brute_force_minutes(cal, a, b)


@settings(max_examples=300, deadline=None)
@given(cal=st.sampled_from(CALENDARS), base=st.sampled_from(BASES),
       offset_s=st.integers(0, 10 * 86400), seconds=st.integers(0, 5 * 86400))
def test_add_business_minutes_inverts_business_minutes(cal, base, offset_s, seconds):
    a = base + timedelta(seconds=offset_s)
    minutes = seconds / 60
    t = cal.add_business_minutes(a, minutes)
    assert t >= a
    assert abs(cal.business_minutes(a, t) - minutes) < 1e-9
    if seconds:
        # earliest such instant: one second earlier is not enough
        assert cal.business_minutes(a, t - timedelta(seconds=1)) < minutes
        assert cal.is_open(t - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(cal=st.sampled_from(CALENDARS), base=st.sampled_from(BASES),
       offset_s=st.integers(0, 10 * 86400))
def test_next_open_is_open_and_nothing_open_before(cal, base, offset_s):
    a = base + timedelta(seconds=offset_s)
    n = cal.next_open(a)
    assert n >= a and cal.is_open(n)
    assert cal.business_minutes(a, n) == 0
